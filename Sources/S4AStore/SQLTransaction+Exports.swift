import Foundation
import S4ADomain
import SQLKit

/// Export links and the whole-record reads an export makes, page by page.
extension SQLTransaction: ExportRepository {
    func insert(_ export: ExportLink) async throws {
        try await db.raw("""
            INSERT INTO exports (id, account_id, token_hash, include_files, created_at, expires_at)
            VALUES (\(bind: export.id), \(bind: export.accountID), \(bind: export.tokenHash), \(bind: export.includeFiles ? 1 : 0),
                    \(bind: export.createdAt.millis), \(bind: export.expiresAt.millis))
            """).run()
    }

    func claimExport(tokenHash: String, at: Date) async throws -> ExportLink? {
        guard let row = try await db.raw("SELECT * FROM exports WHERE token_hash = \(bind: tokenHash)").first() else { return nil }
        let link = ExportLink(id: try row.string("id"), accountID: try row.string("account_id"), tokenHash: try row.string("token_hash"),
                              includeFiles: try row.int64("include_files") != 0, createdAt: try row.date("created_at"),
                              expiresAt: try row.date("expires_at"))
        // Deleted whether used now or expired: a link works once, and a dead one is no row.
        try await db.raw("DELETE FROM exports WHERE id = \(bind: link.id)").run()
        return link.expiresAt > at ? link : nil
    }

    func runsWithOutput(serverID: String, after: String?, limit: Int) async throws -> [Run] {
        var query = SQLQueryString("SELECT * FROM runs WHERE server_id = \(bind: serverID)")
        if let after { query = query + " AND id > \(bind: after)" }
        return try await db.raw(query + " ORDER BY id LIMIT \(literal: limit)").all().map(Self.run)
    }

    func allServers(accountID: String) async throws -> [Server] {
        try await db.raw("SELECT * FROM servers WHERE account_id = \(bind: accountID) ORDER BY created_at, id").all().map(Self.server)
    }

    func usageSamples(serverID: String, after: Date?, limit: Int) async throws -> [UsageSample] {
        var query = SQLQueryString("SELECT * FROM usage_samples WHERE server_id = \(bind: serverID)")
        if let after { query = query + " AND sampled_at > \(bind: after.millis)" }
        return try await db.raw(query + " ORDER BY sampled_at LIMIT \(literal: limit)").all().map { row in
            UsageSample(serverID: try row.string("server_id"), accountID: try row.string("account_id"), at: try row.date("sampled_at"),
                        cpuMicros: try row.int64("cpu_micros"), memoryBytes: try row.int64("memory_bytes"),
                        pids: try row.int64("pids"), diskBytes: try row.int64("disk_bytes"),
                        networkReceivedBytes: try row.int64("net_rx_bytes"), networkSentBytes: try row.int64("net_tx_bytes"),
                        charged: MicroDollars(try row.int64("charged_micros")))
        }
    }

    func ledgerEntries(accountID: String) async throws -> [StoredLedgerEntry] {
        try await db.raw("SELECT * FROM ledger_entries WHERE account_id = \(bind: accountID) ORDER BY created_at, id").all().map { row in
            guard let kind = LedgerEntry.Kind(rawValue: try row.string("kind")) else { throw StoreError.corrupt("ledger kind") }
            return StoredLedgerEntry(id: try row.string("id"), serverID: try row.string("server_id"),
                                     entry: LedgerEntry(kind: kind, amount: MicroDollars(try row.int64("amount_micros")),
                                                        leaseID: try row.string("lease_id")),
                                     createdAt: try row.date("created_at"))
        }
    }
}
