import Foundation

/// The metering round: leases settled and renewed, servers whose lease ran out or whose container died recorded.
extension ServerService {
    /// What one round of metering saw: servers whose settlement was overdue, by how much.
    public struct MeteringRound: Sendable {
        public var late: [(serverID: String, by: Duration)] = []
        public var renewed = 0
        public var ended = 0
        public var died = 0
    }

    /// One round of metering (the control plane runs it every second): settles and renews
    /// leases that are due, turns a lease the watchdog let run out into `exhausted` (the
    /// budget is spent) or `stopped`, and marks a server whose container died on its own
    /// `failed`, with the reason, charging it only to the moment it was found dead.
    @discardableResult
    public func enforceBudgets(roundMilliseconds: Int64 = 1000) async throws -> MeteringRound {
        // One read for the round, one write for all renewals: per-server reads and commits
        // did not keep up with 150 servers on two cores.
        let (running, terms) = try await env.store.read { tx in
            (try await tx.servers.liveServers().filter { $0.state == .running }, try await tx.ledger.openLeaseTerms())
        }
        var round = MeteringRound()
        var held: [String] = []
        var due: [Server] = [], ended: [Server] = [], dead: [(Server, String)] = []
        for server in running {
            // A server being started, stopped or changed is left to the next round.
            guard await locks.tryAcquire(server.id) else { continue }
            held.append(server.id)
            if try await runtime.leaseExpired(server.id) != nil {
                ended.append(server)
            } else if let cause = await runtime.stopCause(server.id) {
                dead.append((server, cause))
            } else if case .due(let late) = budgets.check(terms[server.id], roundMilliseconds: roundMilliseconds) {
                due.append(server)
                if late > .zero { round.late.append((server.id, late)) }
            }
        }
        do {
            if !due.isEmpty { _ = try await budgets.renewAll(due) }
            // Stopped by their watchdogs or dead: cleaned up and recorded side by side (each
            // is a container removal), not one after another.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for server in ended { group.addTask { _ = try await endIfLeaseRanOut(server, budgets) } }
                for (server, cause) in dead { group.addTask { try await endDead(server, cause: cause, budgets) } }
                try await group.waitForAll()
            }
        } catch {
            for id in held { await locks.release(id) }
            throw error
        }
        for id in held { await locks.release(id) }
        round.renewed = due.count
        round.ended = ended.count
        round.died = dead.count
        return round
    }

    /// A server whose container stopped on its own (its init died: out of memory, killed):
    /// charged to now and no further, cleaned up, recorded `failed` with the reason.
    func endDead(_ server: Server, cause: String, _ budgets: BudgetService) async throws {
        try await budgets.settle(server)
        try? await runtime.stop(server.id)
        var failed = server
        failed.lastError = cause
        _ = try await transition(failed, to: .failed, action: Action.serverFailed, actor: .system)
    }

    /// When the watchdog stopped the server at its deadline: settles, cleans up and records
    /// why. True if it did.
    func endIfLeaseRanOut(_ server: Server, _ budgets: BudgetService) async throws -> Bool {
        guard let expired = try await runtime.leaseExpired(server.id) else { return false }
        try await budgets.settle(server, at: expired)
        try await runtime.stop(server.id)
        let balance = try await budgets.balance(server)
        let settings = budgets.settings
        let spent = settings.card.cost(cpuMillis: server.cpuMillis, memoryMB: server.memoryMB, milliseconds: 1)
            > balance.available(under: server.budget)
        // Not its own cap: the account's limit left nothing to lease (else the control plane was late).
        let limited = try await env.store.read { tx -> Bool in
            guard !spent, let limit = try await tx.accounts.account(id: server.accountID)?.spendingLimit else { return false }
            let available = try await tx.ledger.ledgerBalance(accountID: server.accountID).available(under: limit)
            return LeasePlan.next(available: available, card: settings.card, cpuMillis: server.cpuMillis, memoryMB: server.memoryMB,
                                  intervalMilliseconds: settings.leaseMilliseconds) == nil
        }
        var ended = server
        ended.lastError = spent ? "its budget is spent"
            : limited ? "stopped: the account's spending limit was reached" : "its lease ran out before the control plane renewed it"
        _ = try await transition(ended, to: spent ? .exhausted : .stopped,
                                 action: spent ? Action.serverBudgetExhausted : Action.serverStopped, actor: .system)
        return true
    }
}
