import Foundation

/// Turns a bearer token or session cookie into a principal, checked against the store on
/// every request so a revoked key or ended session fails at once.
public struct Authenticator: Sendable {
    let env: DomainEnvironment
    /// `last_used_at` is written at most this often per key, to keep reads from taking the write lock.
    public var touchInterval: TimeInterval = 60

    public init(env: DomainEnvironment) { self.env = env }

    public func principal(token: String) async throws -> Principal? {
        let now = env.now()
        let hash = RandomToken.hash(token)
        if token.hasPrefix(AccountService.sessionTokenPrefix) {
            guard let session = try await env.store.read({ tx in try await tx.accounts.session(tokenHash: hash) }),
                  session.expiresAt > now else { return nil }
            return Principal(accountID: session.accountID, credential: .session(session))
        }
        if token.hasPrefix(APIKey.tokenPrefix) {
            guard var key = try await env.store.read({ tx in try await tx.keys.apiKey(tokenHash: hash) }),
                  key.isUsable(at: now) else { return nil }
            if key.lastUsedAt.map({ now.timeIntervalSince($0) >= touchInterval }) ?? true {
                let id = key.id
                try await env.store.write { tx in try await tx.keys.touchAPIKey(id: id, at: now) }
                key.lastUsedAt = now
            }
            return Principal(accountID: key.accountID, credential: .apiKey(key))
        }
        return nil
    }
}
