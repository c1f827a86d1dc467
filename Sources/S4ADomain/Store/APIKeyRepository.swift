import Foundation

/// API keys (the table `api_keys`), and what the servers a key made commit.
public protocol APIKeyRepository: Sendable {
    func insert(_ key: APIKey) async throws
    func apiKey(tokenHash: String) async throws -> APIKey?
    func apiKey(id: String, accountID: String) async throws -> APIKey?
    func apiKeys(accountID: String, cursor: String?, limit: Int) async throws -> Page<APIKey>
    func revokeAPIKey(id: String, at: Date) async throws
    func touchAPIKey(id: String, at: Date) async throws
    /// What the servers a key and the keys made under it created commit (as
    /// `LedgerRepository.committedBudget`), and how many of them live.
    func keyCommitment(keyID: String) async throws -> (budget: MicroDollars, servers: Int)
}
