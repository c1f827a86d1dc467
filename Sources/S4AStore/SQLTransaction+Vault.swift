import Foundation
import S4ADomain
import SQLKit

/// The vault's rows. Sealed bytes are stored as base64 text: one representation on both engines.
extension SQLTransaction: VaultRepository {
    func vaultFingerprint() async throws -> String? {
        try await db.raw("SELECT kek_fingerprint FROM vault_meta WHERE id = 1").first().map { try $0.string("kek_fingerprint") }
    }

    func setVaultFingerprint(_ fingerprint: String) async throws {
        try await db.raw("DELETE FROM vault_meta WHERE id = 1").run()
        try await db.raw("INSERT INTO vault_meta (id, kek_fingerprint) VALUES (1, \(bind: fingerprint))").run()
    }

    func wrappedDataKey(projectID: String) async throws -> WrappedDataKey? {
        try await db.raw("SELECT wrapped_key, wrap_version FROM project_keys WHERE project_id = \(bind: projectID)").first()
            .map(Self.wrappedKey)
    }

    func insertWrappedDataKey(projectID: String, _ key: WrappedDataKey, at: Date) async throws {
        try await db.raw("""
            INSERT INTO project_keys (project_id, wrapped_key, wrap_version, created_at)
            VALUES (\(bind: projectID), \(bind: key.wrapped.base64EncodedString()), \(bind: key.version), \(bind: at.millis))
            """).run()
    }

    func wrappedDataKeys() async throws -> [(projectID: String, key: WrappedDataKey)] {
        try await db.raw("SELECT project_id, wrapped_key, wrap_version FROM project_keys ORDER BY project_id").all()
            .map { (try $0.string("project_id"), try Self.wrappedKey($0)) }
    }

    func updateWrappedDataKey(projectID: String, _ key: WrappedDataKey) async throws {
        try await db.raw("""
            UPDATE project_keys SET wrapped_key = \(bind: key.wrapped.base64EncodedString()), wrap_version = \(bind: key.version)
            WHERE project_id = \(bind: projectID)
            """).run()
    }

    func deleteDataKeyAndSecrets(projectID: String) async throws {
        try await db.raw("DELETE FROM secrets WHERE project_id = \(bind: projectID)").run()
        try await db.raw("DELETE FROM project_keys WHERE project_id = \(bind: projectID)").run()
    }

    static func wrappedKey(_ row: any SQLRow) throws -> WrappedDataKey {
        WrappedDataKey(wrapped: try bytes(row, "wrapped_key"), version: Int(try row.int64("wrap_version")))
    }

    func secret(_ address: SecretAddress) async throws -> SecretRecord? {
        try await db.raw("""
            SELECT * FROM secrets WHERE project_id = \(bind: address.projectID)
              AND server_id = \(bind: address.serverID ?? "") AND name = \(bind: address.name)
            """).first().map(Self.secret)
    }

    func secrets(projectID: String, serverID: String?) async throws -> [SecretRecord] {
        var query = SQLQueryString("SELECT * FROM secrets WHERE project_id = \(bind: projectID)")
        if let serverID { query = query + " AND server_id IN (\(bind: ""), \(bind: serverID))" }
        return try await db.raw(query + " ORDER BY server_id, name").all().map(Self.secret)
    }

    func upsert(_ secret: SecretRecord) async throws {
        let sealed = secret.sealed.base64EncodedString()
        try await db.raw("""
            INSERT INTO secrets (id, account_id, project_id, server_id, name, version, sealed, value_bytes, created_at, updated_at)
            VALUES (\(bind: secret.id), \(bind: secret.accountID), \(bind: secret.address.projectID),
                    \(bind: secret.address.serverID ?? ""), \(bind: secret.address.name), \(bind: secret.version),
                    \(bind: sealed), \(bind: secret.valueBytes), \(bind: secret.createdAt.millis), \(bind: secret.updatedAt.millis))
            ON CONFLICT (project_id, server_id, name) DO UPDATE SET
                version = secrets.version + 1, sealed = \(bind: sealed), value_bytes = \(bind: secret.valueBytes),
                updated_at = \(bind: secret.updatedAt.millis)
            """).run()
    }

    func deleteSecret(_ address: SecretAddress) async throws {
        try await db.raw("""
            DELETE FROM secrets WHERE project_id = \(bind: address.projectID)
              AND server_id = \(bind: address.serverID ?? "") AND name = \(bind: address.name)
            """).run()
    }

    func deleteSecrets(serverID: String) async throws {
        try await db.raw("DELETE FROM secrets WHERE server_id = \(bind: serverID)").run()
    }

    static func bytes(_ row: any SQLRow, _ column: String) throws -> Data {
        guard let data = Data(base64Encoded: try row.string(column)) else { throw StoreError.corrupt(column) }
        return data
    }

    static func secret(_ row: any SQLRow) throws -> SecretRecord {
        let server = try row.string("server_id")
        return SecretRecord(
            id: try row.string("id"), accountID: try row.string("account_id"),
            address: SecretAddress(projectID: try row.string("project_id"), serverID: server.isEmpty ? nil : server,
                                   name: try row.string("name")),
            version: Int(try row.int64("version")), sealed: try bytes(row, "sealed"),
            valueBytes: Int(try row.int64("value_bytes")), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}
