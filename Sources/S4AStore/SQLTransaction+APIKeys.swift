import Foundation
import S4ADomain
import SQLKit

extension SQLTransaction: APIKeyRepository {
    func insert(_ key: APIKey) async throws {
        let scopes = key.scopes.sorted().map(\.rawValue).joined(separator: " ")
        let projects = key.projectIDs.map { $0.sorted().joined(separator: " ") }
        try await db.raw("""
            INSERT INTO api_keys (id, account_id, parent_key_id, name, token_hash, prefix, scopes, project_ids,
                                  expires_at, max_server_budget_micros, max_total_budget_micros, max_servers, created_at)
            VALUES (\(bind: key.id), \(bind: key.accountID), \(bind: key.parentKeyID), \(bind: key.name),
                    \(bind: key.tokenHash), \(bind: key.prefix), \(bind: scopes), \(bind: projects),
                    \(bind: key.expiresAt?.millis), \(bind: key.maxServerBudget?.value), \(bind: key.maxTotalBudget?.value),
                    \(bind: key.maxServers), \(bind: key.createdAt.millis))
            """).run()
    }

    func apiKey(tokenHash: String) async throws -> APIKey? {
        try await db.raw("SELECT * FROM api_keys WHERE token_hash = \(bind: tokenHash)").first().map(Self.apiKey)
    }

    func apiKey(id: String, accountID: String) async throws -> APIKey? {
        try await db.raw("SELECT * FROM api_keys WHERE id = \(bind: id) AND account_id = \(bind: accountID)")
            .first().map(Self.apiKey)
    }

    func apiKeys(accountID: String, cursor: String?, limit: Int) async throws -> Page<APIKey> {
        let query = SQLQueryString("SELECT * FROM api_keys WHERE account_id = \(bind: accountID)")
        let rows = try await db.raw(try newestFirst(query, after: cursor, limit: limit)).all()
        return try page(rows, limit: limit, decode: Self.apiKey, key: { ($0.createdAt, $0.id) })
    }

    func keyCommitment(keyID: String) async throws -> (budget: MicroDollars, servers: Int) {
        // The key and every key made under it: their servers all count against it.
        let tree: SQLQueryString = """
            WITH RECURSIVE tree(id) AS (
                SELECT id FROM api_keys WHERE id = \(bind: keyID)
                UNION ALL SELECT k.id FROM api_keys k JOIN tree t ON k.parent_key_id = t.id)
            """
        let live = try await db.raw(tree + """
             SELECT CAST(COALESCE(SUM(budget_micros), 0) AS BIGINT) AS caps, COUNT(*) AS n FROM servers
            WHERE created_by_key_id IN (SELECT id FROM tree) AND state <> 'deleted'
            """).first()
        let spent = try await db.raw(tree + """
             SELECT CAST(COALESCE(SUM(l.amount_micros), 0) AS BIGINT) AS total FROM ledger_entries l
            JOIN servers s ON s.id = l.server_id
            WHERE s.created_by_key_id IN (SELECT id FROM tree) AND l.kind IN ('charge', 'egress') AND s.state = 'deleted'
            """).first()?.int64("total") ?? 0
        return (MicroDollars((try live?.int64("caps") ?? 0) + spent), Int(try live?.int64("n") ?? 0))
    }

    func revokeAPIKey(id: String, at: Date) async throws {
        try await db.raw("UPDATE api_keys SET revoked_at = \(bind: at.millis) WHERE id = \(bind: id) AND revoked_at IS NULL").run()
    }

    func touchAPIKey(id: String, at: Date) async throws {
        try await db.raw("UPDATE api_keys SET last_used_at = \(bind: at.millis) WHERE id = \(bind: id)").run()
    }

    static func apiKey(_ row: any SQLRow) throws -> APIKey {
        let scopes = try row.string("scopes").split(separator: " ").map { raw in
            guard let scope = Scope(rawValue: String(raw)) else { throw StoreError.corrupt("unknown scope \(raw)") }
            return scope
        }
        let projects = try row.optionalString("project_ids").map { Set($0.split(separator: " ").map(String.init)) }
        return APIKey(id: try row.string("id"), accountID: try row.string("account_id"),
                      parentKeyID: try row.optionalString("parent_key_id"), name: try row.string("name"),
                      tokenHash: try row.string("token_hash"), prefix: try row.string("prefix"), scopes: Set(scopes),
                      projectIDs: projects, expiresAt: try row.optionalDate("expires_at"),
                      maxServerBudget: try row.optionalInt64("max_server_budget_micros").map(MicroDollars.init),
                      maxTotalBudget: try row.optionalInt64("max_total_budget_micros").map(MicroDollars.init),
                      maxServers: try row.optionalInt64("max_servers").map { Int($0) },
                      createdAt: try row.date("created_at"), lastUsedAt: try row.optionalDate("last_used_at"),
                      revokedAt: try row.optionalDate("revoked_at"))
    }
}
