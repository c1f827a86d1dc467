import Foundation

/// How budgets are metered: the prices, how far ahead a lease reaches and how often it is settled.
public struct BudgetSettings: Sendable {
    public var card: RateCard = .standard
    /// The longest lease: a server's keeper holds a deadline this far ahead, or to the moment its
    /// remaining budget runs out if that is sooner. A server's rate is fixed by its size, so a
    /// lease that reaches the end of its budget stays exact, and a server keeps running through
    /// any fault of the control plane for as long as its budget (or this horizon) lasts.
    public var leaseMilliseconds: Int64 = BudgetSettings.defaultLeaseMilliseconds
    /// A lease older than this is settled (time used charged, the rest reserved again), so that
    /// spend stays current while the deadline stays where the budget puts it.
    public var settleMilliseconds: Int64 = 5000
    /// Thirty days: long enough that no outage of a control plane stops a server with budget left.
    public static let defaultLeaseMilliseconds: Int64 = 30 * 24 * 3600 * 1000
    public init() {}
}

/// Where a running server's lease stands in a metering round.
public enum LeaseCheck: Sendable, Equatable {
    case current
    /// Settle it now; `late` says by how much the settlement is overdue (zero when on time).
    case due(late: Duration)
}

/// Un-overspendable budgets: a server runs only inside a prepaid lease reserved against its
/// cap in one transaction; renewal settles the time used and reserves the next interval (or
/// the rest); a watchdog next to the server stops it at the deadline if nobody renews.
public struct BudgetService: Sendable {
    let env: DomainEnvironment
    let runtime: any ContainerRuntime
    let settings: BudgetSettings

    public init(env: DomainEnvironment, runtime: any ContainerRuntime, settings: BudgetSettings) {
        self.env = env
        self.runtime = runtime
        self.settings = settings
    }

    public enum Renewal: Sendable, Equatable {
        case leased(until: Date)
        /// Nothing more is affordable; the current lease (if any) runs out at its deadline.
        case exhausted
    }

    /// Settles what the server has used and reserves its next lease, in one transaction, then
    /// tells the watchdog the new deadline. `.exhausted` reserves nothing.
    @discardableResult
    public func renew(_ server: Server) async throws -> Renewal {
        let egress = await egressCounter(server)
        let now = env.now()
        let settings = self.settings
        let lease: Lease? = try await env.store.write { tx in
            try await Self.nextLease(tx, server, at: now, settings: settings, egressCounter: egress)
        }
        guard let lease else { return .exhausted }
        try await runtime.setLease(server.id, deadline: lease.deadline)
        return .leased(until: lease.deadline)
    }

    /// Renews many running servers' leases in one transaction (the metering loop's round: one
    /// commit however many are due), then tells their watchdogs. Servers that stopped since
    /// they were read are skipped; the ids of those that could afford nothing are returned.
    public func renewAll(_ servers: [Server]) async throws -> Set<String> {
        var egress: [String: Int64] = [:]
        for server in servers where server.network == .egress { egress[server.id] = await egressCounter(server) }
        let now = env.now()
        let settings = self.settings
        let counters = egress
        let (leases, exhausted) = try await env.store.write { tx -> ([Lease], Set<String>) in
            var leases: [Lease] = [], exhausted: Set<String> = []
            for server in servers {
                guard let current = try await tx.servers.server(id: server.id, accountID: server.accountID), current.state == .running
                else { continue }
                if let lease = try await Self.nextLease(tx, current, at: now, settings: settings, egressCounter: counters[server.id]) {
                    leases.append(lease)
                } else {
                    exhausted.insert(server.id)
                }
            }
            return (leases, exhausted)
        }
        for lease in leases { try await runtime.setLease(lease.serverID, deadline: lease.deadline) }
        return exhausted
    }

    /// Settles a running server's open leases at this moment inside `tx` (the account locked);
    /// its balance afterwards.
    public func settleNow(_ tx: any StoreTransaction, _ server: Server) async throws -> LedgerBalance {
        let egress = await egressCounter(server)
        return try await Self.settleOpenLeases(tx, server, at: env.now(), settings: settings, egressCounter: egress)
    }

    /// Re-plans a running server's lease inside `tx` (the account locked, the server's lock
    /// held) after its cap or its account's limit changed: settles what it used, reserves what
    /// the new terms allow and hands the keeper the new deadline *before* `tx` commits. A keeper
    /// that cannot be told throws, so the change is refused rather than left unenforced; a
    /// commit that fails afterwards leaves the keeper with a deadline the ledger does not
    /// reserve for, which only shortens the server's run (the next round lengthens it again).
    public func replan(_ tx: any StoreTransaction, _ server: Server) async throws {
        let egress = await egressCounter(server)
        let lease = try await Self.nextLease(tx, server, at: env.now(), settings: settings, egressCounter: egress)
        // Nothing affordable: the keeper stops it now; the metering round then records why.
        try await runtime.setLease(server.id, deadline: lease?.deadline ?? env.now())
    }

    /// Settles the server's open leases and reserves the next one (nil: nothing affordable).
    static func nextLease(_ tx: any StoreTransaction, _ server: Server, at now: Date, settings: BudgetSettings,
                          egressCounter: Int64?) async throws -> Lease? {
        try await tx.lockAccount(id: server.accountID)
        let balance = try await settleOpenLeases(tx, server, at: now, settings: settings, egressCounter: egressCounter)
        var available = balance.available(under: server.budget)
        if let limit = try await tx.accounts.account(id: server.accountID)?.spendingLimit {
            available = min(available, try await tx.ledger.ledgerBalance(accountID: server.accountID).available(under: limit))
        }
        guard let plan = LeasePlan.next(available: available, card: settings.card,
                                        cpuMillis: server.cpuMillis, memoryMB: server.memoryMB,
                                        intervalMilliseconds: settings.leaseMilliseconds) else { return nil }
        let lease = Lease(id: RandomToken.id(.lease), serverID: server.id, accountID: server.accountID, startedAt: now,
                          deadline: now.addingTimeInterval(Double(plan.milliseconds) / 1000), reserved: plan.price,
                          egressCounter: egressCounter)
        try await tx.ledger.insert(lease)
        return lease
    }

    /// Settles the server's open leases (it stopped, or its lease ran out at `at`).
    /// `egressCounter`: its count of bytes sent, read before it stopped (nil: unknown, and the
    /// last lease's egress goes uncharged).
    public func settle(_ server: Server, at time: Date? = nil, egressCounter: Int64? = nil) async throws {
        let now = time ?? env.now()
        let settings = self.settings
        try await env.store.write { tx in
            try await tx.lockAccount(id: server.accountID)
            _ = try await Self.settleOpenLeases(tx, server, at: now, settings: settings, egressCounter: egressCounter)
        }
    }

    /// The server's count of bytes sent out so far, if it has an egress network and runs.
    public func egressCounter(_ server: Server) async -> Int64? {
        guard server.network == .egress, let stats = try? await runtime.stats(server.id) else { return nil }
        return Int64(stats.networkSentBytes)
    }

    /// Whether a server's lease (nil: it has none) must be settled and renewed now: when half
    /// of it has passed or it is older than the settling period. How late that is counts from the
    /// settling period (or the half-way point, if sooner), with a round's worth of slack.
    public func check(_ term: LeaseTerm?, roundMilliseconds: Int64 = 1000) -> LeaseCheck {
        guard let term else { return .due(late: .zero) }
        let now = env.now()
        let length = Int64((term.deadline.timeIntervalSince(term.startedAt) * 1000).rounded())
        let dueAfter = min(settings.settleMilliseconds, max(0, length / 2))
        let age = Int64((now.timeIntervalSince(term.startedAt) * 1000).rounded())
        guard age >= dueAfter else { return .current }
        return .due(late: .milliseconds(max(0, age - dueAfter - roundMilliseconds)))
    }

    public func balance(_ server: Server) async throws -> LedgerBalance {
        try await env.store.read { tx in try await tx.ledger.ledgerBalance(serverID: server.id) }
    }

    /// Charges each open lease for the time used (to `at` or its deadline, whichever is first;
    /// never more than it reserved) and releases the rest; warns at 50% and 80% of the cap.
    /// Returns the server's balance afterwards.
    static func settleOpenLeases(_ tx: any StoreTransaction, _ server: Server, at now: Date, settings: BudgetSettings,
                                 egressCounter: Int64?) async throws -> LedgerBalance {
        let before = try await tx.ledger.ledgerBalance(serverID: server.id).charged
        let open = try await tx.ledger.openLeases(serverID: server.id)
        for lease in open {
            let end = min(now, lease.deadline)
            let milliseconds = max(0, Int64((end.timeIntervalSince(lease.startedAt) * 1000).rounded(.up)))
            let used = settings.card.cost(cpuMillis: server.cpuMillis, memoryMB: server.memoryMB, milliseconds: milliseconds)
            _ = try await tx.ledger.settle(leaseID: lease.id, entries: LedgerBalance.settle(leaseID: lease.id, reserved: lease.reserved,
                                                                                     used: used), at: now)
        }
        var balance = try await tx.ledger.ledgerBalance(serverID: server.id)
        // Bytes sent since the oldest open lease began (a counter that fell restarted from
        // zero), charged with the newest lease, never past the cap: egress cannot be reserved
        // ahead, so at most one lease's worth goes uncharged rather than overspent.
        if let sent = egressCounter, let last = open.last, let start = open.compactMap(\.egressCounter).first {
            let cost = settings.card.egressCost(bytes: sent >= start ? sent - start : sent)
            let charge = min(cost, balance.available(under: server.budget))
            if charge.value > 0 {
                let entry = LedgerEntry(kind: .egress, amount: charge, leaseID: last.id)
                try await tx.ledger.appendLedger([entry], serverID: server.id, accountID: server.accountID, at: now)
                balance.apply(entry)
            }
        }
        let after = balance.charged
        guard server.budget.value > 0 else { return balance }
        for percent in [50, 80] {
            let threshold = server.budget.value * Int64(percent) / 100
            if before.value < threshold, after.value >= threshold {
                try await tx.activity.append(
                    ActivityRecord(action: Action.serverBudgetWarning, actor: .system,
                                   target: Target(type: "server", id: server.id), projectID: server.projectID,
                                   metadata: ["percent": "\(percent)", "charged_usd": after.decimal,
                                              "budget_usd": server.budget.decimal]),
                    accountID: server.accountID, at: now)
            }
        }
        return balance
    }
}
