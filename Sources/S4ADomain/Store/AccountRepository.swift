import Foundation

/// Accounts, their browser sessions and login throttling (the tables `accounts`, `sessions`
/// and `login_failures`).
public protocol AccountRepository: Sendable {
    // Accounts
    func insert(_ account: Account) async throws
    func account(id: String) async throws -> Account?
    func account(email: String) async throws -> Account?
    func updatePasswordHash(accountID: String, hash: String) async throws
    /// nil removes the limit.
    func setSpendingLimit(accountID: String, limit: MicroDollars?) async throws

    // Sessions
    func insert(_ session: Session) async throws
    func session(tokenHash: String) async throws -> Session?
    func deleteSession(id: String) async throws
    func deleteSessions(accountID: String, except keepID: String?) async throws

    // Login throttling
    /// Serialises throttling decisions on `key` until the transaction ends (PostgreSQL: an
    /// advisory lock; SQLite's write transactions already exclude each other).
    func lockThrottle(key: String) async throws
    /// Records a failure (or an attempt about to be checked, under `attemptID`) and forgets that
    /// key's failures older than `forgetBefore`.
    func recordLoginFailure(key: String, attemptID: String?, at: Date, forgetBefore: Date) async throws
    /// Failures (and attempts in flight) for `key` since `since`, and the oldest of them.
    func loginFailures(key: String, since: Date) async throws -> (count: Int, oldest: Date?)
    /// Forgets an attempt that turned out right, under every key it was recorded for.
    func forgetLoginAttempt(id: String) async throws
}

extension AccountRepository {
    public func recordLoginFailure(key: String, at: Date, forgetBefore: Date) async throws {
        try await recordLoginFailure(key: key, attemptID: nil, at: at, forgetBefore: forgetBefore)
    }
}
