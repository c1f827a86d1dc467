import Foundation

/// Sealed secrets and the wrapped data keys that open them (the tables `vault_meta`, `project_keys`
/// and `secrets`).
public protocol VaultRepository: Sendable {
    // Data keys
    /// The master key's fingerprint the data was sealed with; nil before the first key.
    func vaultFingerprint() async throws -> String?
    func setVaultFingerprint(_ fingerprint: String) async throws
    /// A project's data key, wrapped by the master key (and, version 2, its shred key).
    func wrappedDataKey(projectID: String) async throws -> WrappedDataKey?
    func insertWrappedDataKey(projectID: String, _ key: WrappedDataKey, at: Date) async throws
    /// Every project's wrapped data key (for rotating the master key).
    func wrappedDataKeys() async throws -> [(projectID: String, key: WrappedDataKey)]
    func updateWrappedDataKey(projectID: String, _ key: WrappedDataKey) async throws
    /// Crypto-shredding, the database's half: the project's wrapped data key and every sealed
    /// secret of the project go.
    func deleteDataKeyAndSecrets(projectID: String) async throws

    // Secrets
    func secret(_ address: SecretAddress) async throws -> SecretRecord?
    /// A project's secrets (both scopes when `serverID` is nil; else that server's and the project's).
    func secrets(projectID: String, serverID: String?) async throws -> [SecretRecord]
    /// Inserts, or replaces the sealed value and bumps the version of, the secret at its address.
    func upsert(_ secret: SecretRecord) async throws
    func deleteSecret(_ address: SecretAddress) async throws
    /// Removes a server's own secrets (the server is deleted).
    func deleteSecrets(serverID: String) async throws
}

extension VaultRepository {
    /// Version 1 (the master key alone): how keys from before shred keys were stored.
    public func insertWrappedDataKey(projectID: String, wrapped: Data, at: Date) async throws {
        try await insertWrappedDataKey(projectID: projectID, WrappedDataKey(wrapped: wrapped, version: 1), at: at)
    }
}
