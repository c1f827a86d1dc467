import Foundation
import S4ADomain
import SQLKit

extension SQLTransaction {
    func insert(_ key: APIKey) async throws {
        let scopes = key.scopes.sorted().map(\.rawValue).joined(separator: " ")
        let projects = key.projectIDs.map { $0.sorted().joined(separator: " ") }
        try await db.raw("""
            INSERT INTO api_keys (id, account_id, parent_key_id, name, token_hash, prefix, scopes, project_ids,
                                  expires_at, max_server_budget_micros, created_at)
            VALUES (\(bind: key.id), \(bind: key.accountID), \(bind: key.parentKeyID), \(bind: key.name),
                    \(bind: key.tokenHash), \(bind: key.prefix), \(bind: scopes), \(bind: projects),
                    \(bind: key.expiresAt?.millis), \(bind: key.maxServerBudget?.value), \(bind: key.createdAt.millis))
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
                      createdAt: try row.date("created_at"), lastUsedAt: try row.optionalDate("last_used_at"),
                      revokedAt: try row.optionalDate("revoked_at"))
    }
}
