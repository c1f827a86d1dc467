import Foundation
import S4ADomain
import SQLKit

/// The store's repositories as SQL both engines accept, one per `SQLTransaction+<Aggregate>.swift`.
/// The transaction implements every repository and hands itself out as each one: a caller
/// sees through `tx.servers` only what `ServerRepository` declares.
struct SQLTransaction: StoreTransaction {
    let db: any SQLDatabase
    let kind: SQLEngineKind
    let auditKeys: AuditKeys

    var accounts: any AccountRepository { self }
    var accountDeletion: any AccountDeletionRepository { self }
    var keys: any APIKeyRepository { self }
    var projects: any ProjectRepository { self }
    var servers: any ServerRepository { self }
    var deployments: any DeploymentRepository { self }
    var ledger: any LedgerRepository { self }
    var usage: any UsageRepository { self }
    var activity: any ActivityRepository { self }
    var vault: any VaultRepository { self }
    var logDrains: any LogDrainRepository { self }
    var exports: any ExportRepository { self }
    var health: any HealthRepository { self }
    var idempotency: any IdempotencyRepository { self }

    func lockAccount(id: String) async throws {
        // SQLite transactions already exclude each other (BEGIN IMMEDIATE); PostgreSQL needs a row lock.
        guard kind == .postgres else { return }
        try await db.raw("SELECT id FROM accounts WHERE id = \(bind: id) FOR UPDATE").run()
    }

    /// `query` continued to list newest first by `column` (then id) after `cursor`, one row past
    /// `limit` to detect a next page.
    func newestFirst(_ query: SQLQueryString, by column: String = "created_at", after cursor: String?,
                     limit: Int) throws -> SQLQueryString {
        var query = query
        if let cursor {
            let (at, id) = try Cursor.createdAt(cursor)
            query = query + " AND (\(unsafeRaw: column) < \(bind: at) OR (\(unsafeRaw: column) = \(bind: at) AND id < \(bind: id)))"
        }
        return query + " ORDER BY \(unsafeRaw: column) DESC, id DESC LIMIT \(literal: limit + 1)"
    }

    /// Page of rows ordered by (created_at, id) descending, with a keyset cursor.
    func page<Item>(_ rows: [any SQLRow], limit: Int, decode: (any SQLRow) throws -> Item,
                    key: (Item) -> (Date, String)) throws -> Page<Item> {
        let items = try rows.prefix(limit).map(decode)
        guard rows.count > limit, let last = items.last else { return Page(items: items, nextCursor: nil) }
        let (at, id) = key(last)
        return Page(items: items, nextCursor: Cursor.encode([String(at.millis), id]))
    }
}

extension SQLRow {
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    func int64(_ column: String) throws -> Int64 { try decode(column: column, as: Int64.self) }
    func optionalInt64(_ column: String) throws -> Int64? { try decode(column: column, as: Int64?.self) }
    func date(_ column: String) throws -> Date { Date(millis: try int64(column)) }
    func optionalDate(_ column: String) throws -> Date? { try optionalInt64(column).map(Date.init(millis:)) }
}
