import Foundation

/// Export links (the table `exports`), and the whole-record reads an export makes, page by
/// page: everything an export holds that the other repositories do not give whole.
public protocol ExportRepository: Sendable {
    func insert(_ export: ExportLink) async throws
    /// Takes the link for its one download: returns it and deletes it, if it exists and has
    /// not expired (an expired one is deleted too).
    func claimExport(tokenHash: String, at: Date) async throws -> ExportLink?
    func runsWithOutput(serverID: String, after: String?, limit: Int) async throws -> [Run]
    func allServers(accountID: String) async throws -> [Server]
    func usageSamples(serverID: String, after: Date?, limit: Int) async throws -> [UsageSample]
    func ledgerEntries(accountID: String) async throws -> [StoredLedgerEntry]
}
