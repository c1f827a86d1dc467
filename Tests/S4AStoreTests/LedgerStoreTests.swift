import Foundation
@testable import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// Leases and the ledger on both engines: balances sum exactly, and a lease settles once
/// however many settle it at the same time.
@Suite(.tags(.postgres), .needs(.postgres)) struct LedgerStoreTests {
    @Test(arguments: Engine.allCases)
    func aLeaseReservesThenSettlesExactlyOnce(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let server = try await makeServer(store, account)
            let other = try await makeServer(store, account)
            let now = Date()
            let lease = Lease(id: RandomToken.id(.lease), serverID: server.id, accountID: account.id, startedAt: now,
                              deadline: now.addingTimeInterval(5), reserved: MicroDollars(100))
            try await store.write { tx in
                try await tx.ledger.insert(lease)
                try await tx.ledger.insert(Lease(id: RandomToken.id(.lease), serverID: other.id, accountID: account.id, startedAt: now,
                                          deadline: now.addingTimeInterval(5), reserved: MicroDollars(7)))
            }
            #expect(try await store.read { tx in try await tx.ledger.ledgerBalance(serverID: server.id) }
                    == LedgerBalance(charged: MicroDollars(0), reserved: MicroDollars(100)))
            #expect(try await store.read { tx in try await tx.ledger.openLeases(serverID: server.id) }.map(\.id) == [lease.id])

            // Twenty settlements race; one wins, the others change nothing.
            let entries = LedgerBalance.settle(leaseID: lease.id, reserved: lease.reserved, used: MicroDollars(60))
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await store.write { tx in
                            try await tx.lockAccount(id: account.id)
                            return try await tx.ledger.settle(leaseID: lease.id, entries: entries, at: Date())
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            let balance = try await store.read { tx in try await tx.ledger.ledgerBalance(serverID: server.id) }
            #expect(balance == LedgerBalance(charged: MicroDollars(60), reserved: MicroDollars(0)))
            #expect(try await store.read { tx in try await tx.ledger.openLeases(serverID: server.id) }.isEmpty)
            #expect(try await store.read { tx in try await tx.ledger.ledgerBalance(accountID: account.id) }
                    == LedgerBalance(charged: MicroDollars(60), reserved: MicroDollars(7)))
        }
    }
}

/// Egress is charged at settlement from the bytes counted since the lease began, and never
/// past the cap however much was sent.
@Suite(.tags(.postgres), .needs(.postgres)) struct EgressChargeTests {
    @Test(arguments: Engine.allCases)
    func egressIsChargedButNeverPastTheCap(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            var server = try await makeServer(store, account)  // cap 1000 µ$
            server.network = .egress
            var settings = BudgetSettings()
            // 1000 µ$ per GiB; time costs nothing here, so egress is all there is.
            settings.card = RateCard(cpuNanosPerVCPUSecond: 0, memoryNanosPerGiBSecond: 0, egressNanosPerGiB: 1_000_000)
            let start = Date()
            func lease(_ counter: Int64, at: Date) -> Lease {
                Lease(id: RandomToken.id(.lease), serverID: server.id, accountID: account.id, startedAt: at,
                      deadline: at.addingTimeInterval(5), reserved: MicroDollars(0), egressCounter: counter)
            }
            let first = lease(1 << 20, at: start)
            try await store.write { tx in try await tx.ledger.insert(first) }
            // 256 MiB sent: 250 µ$ (a quarter GiB at 1000 µ$).
            let balance = try await store.write { [server, settings] tx in
                try await tx.lockAccount(id: account.id)
                return try await BudgetService.settleOpenLeases(tx, server, at: start.addingTimeInterval(5), settings: settings,
                                                                 egressCounter: (1 << 20) + (256 << 20))
            }
            #expect(balance.charged == MicroDollars(250))
            // Then 10 GiB in one lease: only what the cap leaves is charged.
            let second = lease(0, at: start.addingTimeInterval(5))
            try await store.write { tx in try await tx.ledger.insert(second) }
            let capped = try await store.write { [server, settings] tx in
                try await tx.lockAccount(id: account.id)
                return try await BudgetService.settleOpenLeases(tx, server, at: start.addingTimeInterval(10), settings: settings,
                                                                 egressCounter: 10 << 30)
            }
            #expect(capped.charged == server.budget)
            #expect(capped.available(under: server.budget) == MicroDollars(0))
            let total = try await store.read { [server] tx in try await tx.ledger.ledgerBalance(serverID: server.id) }
            #expect(total == capped)
        }
    }
}
