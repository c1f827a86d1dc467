import Foundation

/// What a long-lived connection (a shell, a log or exec stream, an MCP session) was opened
/// with, re-checked while it lasts: revoking or expiring the key, ending the session, deleting
/// the account, the project or the server, or losing the scope ends it.
public struct Authority: Sendable {
    public var principal: Principal
    public var requirement: Requirement
    /// The server the connection works on, if it works on one.
    public var serverID: String?

    public init(_ principal: Principal, _ requirement: Requirement, serverID: String? = nil) {
        self.principal = principal
        self.requirement = requirement
        self.serverID = serverID
    }

    /// How often a long-lived connection's authority is checked again.
    public static let recheckInterval: Duration = .milliseconds(400)
}

extension Authenticator {
    /// Whether `authority` still holds, read fresh from the store. A store that cannot answer
    /// is not taken as a revocation (a revocation is written to that same store).
    public func holds(_ authority: Authority) async -> Bool {
        let now = env.now()
        do {
            return try await env.store.read { tx in
                let current: Principal.Credential
                switch authority.principal.credential {
                case .session(let session):
                    guard let fresh = try await tx.accounts.session(tokenHash: session.tokenHash), fresh.id == session.id,
                          fresh.expiresAt > now else { return false }
                    current = .session(fresh)
                case .apiKey(let key):
                    guard let fresh = try await tx.keys.apiKey(id: key.id, accountID: key.accountID), fresh.isUsable(at: now)
                    else { return false }
                    current = .apiKey(fresh)
                }
                let principal = Principal(accountID: authority.principal.accountID, credential: current)
                guard (try? principal.check(authority.requirement)) != nil else { return false }
                if let serverID = authority.serverID {
                    guard let server = try? await tx.reachableServer(serverID, by: principal), server.state != .deleted
                    else { return false }
                }
                return true
            }
        } catch {
            return true
        }
    }

    /// Returns once `authority` no longer holds (checked every `Authority.recheckInterval`);
    /// throws CancellationError when cancelled first. Race it against the connection's work.
    public func untilRevoked(_ authority: Authority) async throws {
        while true {
            try await Task.sleep(for: Authority.recheckInterval)
            if await !holds(authority) { return }
        }
    }
}

extension Authenticator {
    /// Runs `body` while `authority` holds: once it no longer does, `body` is cancelled (a
    /// command's process tree is killed on cancellation) and this throws 401, after `body` ended.
    public func whileHolding<T: Sendable>(_ authority: Authority, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await untilRevoked(authority)
                return nil
            }
            while let next = try await group.next() {
                group.cancelAll()
                if let value = next { return value }
                throw DomainError(.unauthenticated, "The credentials this was started with are no longer valid.")
            }
            throw CancellationError()
        }
    }
}
