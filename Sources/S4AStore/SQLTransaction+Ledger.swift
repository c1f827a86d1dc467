import Foundation
import S4ADomain
import SQLKit

/// Leases and the ledger. A lease's reserve, charge and release are one row each (a unique
/// index on lease and kind), so a lease can never be settled twice, whatever races.
extension SQLTransaction: LedgerRepository {
    func insert(_ lease: Lease) async throws {
        try await db.raw("""
            INSERT INTO leases (id, server_id, account_id, started_at, deadline, reserved_micros, settled_at, egress_counter)
            VALUES (\(bind: lease.id), \(bind: lease.serverID), \(bind: lease.accountID), \(bind: lease.startedAt.millis),
                    \(bind: lease.deadline.millis), \(bind: lease.reserved.value), \(bind: lease.settledAt?.millis),
                    \(bind: lease.egressCounter))
            """).run()
        try await appendLedger([LedgerEntry(kind: .reserve, amount: lease.reserved, leaseID: lease.id)],
                               serverID: lease.serverID, accountID: lease.accountID, at: lease.startedAt)
    }

    func openLeaseTerms() async throws -> [String: LeaseTerm] {
        var terms: [String: LeaseTerm] = [:]
        for row in try await db.raw("""
            SELECT server_id, MAX(started_at) AS started_at, MAX(deadline) AS deadline FROM leases
            WHERE settled_at IS NULL GROUP BY server_id
            """).all() {
            terms[try row.string("server_id")] = LeaseTerm(startedAt: try row.date("started_at"), deadline: try row.date("deadline"))
        }
        return terms
    }

    func openLeases(serverID: String) async throws -> [Lease] {
        try await db.raw("""
            SELECT * FROM leases WHERE server_id = \(bind: serverID) AND settled_at IS NULL ORDER BY started_at, id
            """).all().map(Self.lease)
    }

    func settle(leaseID: String, entries: [LedgerEntry], at: Date) async throws -> Bool {
        guard let row = try await db.raw("SELECT * FROM leases WHERE id = \(bind: leaseID)").first() else { return false }
        let lease = try Self.lease(row)
        guard lease.settledAt == nil else { return false }
        try await db.raw("UPDATE leases SET settled_at = \(bind: at.millis) WHERE id = \(bind: leaseID) AND settled_at IS NULL").run()
        try await appendLedger(entries, serverID: lease.serverID, accountID: lease.accountID, at: at)
        return true
    }

    func appendLedger(_ entries: [LedgerEntry], serverID: String, accountID: String, at: Date) async throws {
        for entry in entries {
            try await db.raw("""
                INSERT INTO ledger_entries (id, account_id, server_id, lease_id, kind, amount_micros, created_at)
                VALUES (\(bind: RandomToken.id(.ledgerEntry)), \(bind: accountID), \(bind: serverID), \(bind: entry.leaseID),
                        \(bind: entry.kind.rawValue), \(bind: entry.amount.value), \(bind: at.millis))
                """).run()
        }
    }

    func ledgerBalance(serverID: String) async throws -> LedgerBalance {
        try await balance(where: SQLQueryString("server_id = \(bind: serverID)"))
    }

    func ledgerBalance(accountID: String) async throws -> LedgerBalance {
        try await balance(where: SQLQueryString("account_id = \(bind: accountID)"))
    }

    func committedBudget(accountID: String) async throws -> MicroDollars {
        let caps = try await db.raw("""
            SELECT CAST(COALESCE(SUM(budget_micros), 0) AS BIGINT) AS total FROM servers
            WHERE account_id = \(bind: accountID) AND state <> 'deleted'
            """).first()?.int64("total") ?? 0
        let spent = try await db.raw("""
            SELECT CAST(COALESCE(SUM(l.amount_micros), 0) AS BIGINT) AS total FROM ledger_entries l
            JOIN servers s ON s.id = l.server_id
            WHERE l.account_id = \(bind: accountID) AND l.kind IN ('charge', 'egress') AND s.state = 'deleted'
            """).first()?.int64("total") ?? 0
        return MicroDollars(caps + spent)
    }

    private func balance(where condition: SQLQueryString) async throws -> LedgerBalance {
        let query = SQLQueryString("SELECT kind, CAST(SUM(amount_micros) AS BIGINT) AS total FROM ledger_entries WHERE ") + condition
            + " GROUP BY kind"
        var balance = LedgerBalance(charged: MicroDollars(0), reserved: MicroDollars(0))
        for row in try await db.raw(query).all() {
            guard let kind = LedgerEntry.Kind(rawValue: try row.string("kind")) else { throw StoreError.corrupt("ledger kind") }
            balance.apply(LedgerEntry(kind: kind, amount: MicroDollars(try row.int64("total")), leaseID: ""))
        }
        return balance
    }

    static func lease(_ row: any SQLRow) throws -> Lease {
        Lease(id: try row.string("id"), serverID: try row.string("server_id"), accountID: try row.string("account_id"),
              startedAt: try row.date("started_at"), deadline: try row.date("deadline"),
              reserved: MicroDollars(try row.int64("reserved_micros")), settledAt: try row.optionalDate("settled_at"),
              egressCounter: try row.optionalInt64("egress_counter"))
    }
}
