import Foundation
import S4ADomain
import SQLKit

/// Account deletion: the marker a restart resumes from, and the rows that go.
extension SQLTransaction: AccountDeletionRepository {
    func markAccountDeleting(id: String, at: Date) async throws {
        try await db.raw("UPDATE accounts SET deleting_at = \(bind: at.millis) WHERE id = \(bind: id) AND deleting_at IS NULL").run()
    }

    func accountsBeingDeleted() async throws -> [String] {
        try await db.raw("SELECT id FROM accounts WHERE deleting_at IS NOT NULL ORDER BY deleting_at").all()
            .map { try $0.string("id") }
    }

    func deleteCredentials(accountID: String) async throws {
        for table in ["sessions", "api_keys", "exports"] {
            try await db.raw("DELETE FROM \(unsafeRaw: table) WHERE account_id = \(bind: accountID)").run()
        }
    }

    /// Children before parents, every table that holds the account's id or one of its projects'
    /// or servers' ids; what foreign keys would cascade is named anyway, so the list reads as the
    /// whole of it. The login failures of its email go too (they are keyed by the email's hash).
    func deleteAccountRows(accountID: String, email: String) async throws {
        let projects = SQLQueryString("SELECT id FROM projects WHERE account_id = \(bind: accountID)")
        let servers = SQLQueryString("SELECT id FROM servers WHERE account_id = \(bind: accountID)")
        let statements: [SQLQueryString] = [
            "DELETE FROM health_probes WHERE project_id IN (" + projects + ") OR server_id IN (" + servers + ")",
            "DELETE FROM incidents WHERE account_id = \(bind: accountID)",
            "DELETE FROM deployments WHERE account_id = \(bind: accountID)",
            "DELETE FROM usage_samples WHERE account_id = \(bind: accountID)",
            "DELETE FROM ledger_entries WHERE account_id = \(bind: accountID)",
            "DELETE FROM leases WHERE account_id = \(bind: accountID)",
            "DELETE FROM runs WHERE account_id = \(bind: accountID)",
            "DELETE FROM secrets WHERE account_id = \(bind: accountID)",
            "DELETE FROM log_drains WHERE account_id = \(bind: accountID)",
            "DELETE FROM project_keys WHERE project_id IN (" + projects + ")",
            "DELETE FROM servers WHERE account_id = \(bind: accountID)",
            "DELETE FROM projects WHERE account_id = \(bind: accountID)",
            "DELETE FROM activity_events WHERE account_id = \(bind: accountID)",
            "DELETE FROM idempotency_records WHERE account_id = \(bind: accountID)",
            "DELETE FROM exports WHERE account_id = \(bind: accountID)",
            "DELETE FROM api_keys WHERE account_id = \(bind: accountID)",
            "DELETE FROM sessions WHERE account_id = \(bind: accountID)",
            "DELETE FROM login_failures WHERE key = \(bind: AccountService.throttleKey(email: email))",
            "DELETE FROM login_failures WHERE key = \(bind: AccountService.reauthKey(accountID: accountID))",
            "DELETE FROM accounts WHERE id = \(bind: accountID)",
        ]
        for statement in statements { try await db.raw(statement).run() }
    }
}
