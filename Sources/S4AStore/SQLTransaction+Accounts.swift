import Foundation
import S4ADomain
import SQLKit

extension SQLTransaction: AccountRepository {
    func insert(_ account: Account) async throws {
        try await db.raw("""
            INSERT INTO accounts (id, email, password_hash, created_at)
            VALUES (\(bind: account.id), \(bind: account.email), \(bind: account.passwordHash), \(bind: account.createdAt.millis))
            """).run()
    }

    func account(id: String) async throws -> Account? {
        try await db.raw("SELECT * FROM accounts WHERE id = \(bind: id)").first().map(Self.account)
    }

    func account(email: String) async throws -> Account? {
        try await db.raw("SELECT * FROM accounts WHERE email = \(bind: email)").first().map(Self.account)
    }

    func updatePasswordHash(accountID: String, hash: String) async throws {
        try await db.raw("UPDATE accounts SET password_hash = \(bind: hash) WHERE id = \(bind: accountID)").run()
    }

    func setSpendingLimit(accountID: String, limit: MicroDollars?) async throws {
        try await db.raw("UPDATE accounts SET spending_limit_micros = \(bind: limit?.value) WHERE id = \(bind: accountID)").run()
    }

    static func account(_ row: any SQLRow) throws -> Account {
        Account(id: try row.string("id"), email: try row.string("email"), passwordHash: try row.string("password_hash"),
                createdAt: try row.date("created_at"),
                spendingLimit: try row.optionalInt64("spending_limit_micros").map(MicroDollars.init))
    }

    // MARK: Sessions

    func insert(_ session: Session) async throws {
        try await db.raw("""
            INSERT INTO sessions (id, account_id, token_hash, created_at, expires_at)
            VALUES (\(bind: session.id), \(bind: session.accountID), \(bind: session.tokenHash),
                    \(bind: session.createdAt.millis), \(bind: session.expiresAt.millis))
            """).run()
    }

    func session(tokenHash: String) async throws -> Session? {
        guard let row = try await db.raw("SELECT * FROM sessions WHERE token_hash = \(bind: tokenHash)").first() else { return nil }
        return Session(id: try row.string("id"), accountID: try row.string("account_id"), tokenHash: try row.string("token_hash"),
                       createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"))
    }

    func deleteSession(id: String) async throws {
        try await db.raw("DELETE FROM sessions WHERE id = \(bind: id)").run()
    }

    func deleteSessions(accountID: String, except keepID: String?) async throws {
        try await db.raw("DELETE FROM sessions WHERE account_id = \(bind: accountID) AND id <> \(bind: keepID ?? "")").run()
    }

    // MARK: Login throttling

    func lockThrottle(key: String) async throws {
        guard kind == .postgres else { return }
        try await db.raw("SELECT pg_advisory_xact_lock(hashtext(\(bind: "throttle:" + key)))").run()
    }

    func recordLoginFailure(key: String, attemptID: String?, at: Date, forgetBefore: Date) async throws {
        try await db.raw("DELETE FROM login_failures WHERE key = \(bind: key) AND at < \(bind: forgetBefore.millis)").run()
        try await db.raw("""
            INSERT INTO login_failures (key, at, attempt_id) VALUES (\(bind: key), \(bind: at.millis), \(bind: attemptID))
            """).run()
    }

    func forgetLoginAttempt(id: String) async throws {
        try await db.raw("DELETE FROM login_failures WHERE attempt_id = \(bind: id)").run()
    }

    func loginFailures(key: String, since: Date) async throws -> (count: Int, oldest: Date?) {
        let row = try await db.raw("""
            SELECT COUNT(*) AS n, MIN(at) AS oldest FROM login_failures WHERE key = \(bind: key) AND at >= \(bind: since.millis)
            """).first()
        let count = try row?.int64("n") ?? 0
        return (Int(count), try row?.optionalDate("oldest"))
    }

}
