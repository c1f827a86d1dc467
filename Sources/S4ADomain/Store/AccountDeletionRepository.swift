import Foundation

/// Deleting an account: the marker a restart resumes from, and the rows that go (every table
/// that names the account, which is why this is its own repository).
public protocol AccountDeletionRepository: Sendable {
    /// Marks the account as being deleted: from then on a restart finishes the job.
    func markAccountDeleting(id: String, at: Date) async throws
    /// Accounts marked as being deleted whose rows are still there.
    func accountsBeingDeleted() async throws -> [String]
    /// Ends every credential of the account: sessions, API keys and export links.
    func deleteCredentials(accountID: String) async throws
    /// Deletes every row that names the account (its activity chain included) and the account.
    func deleteAccountRows(accountID: String, email: String) async throws
}
