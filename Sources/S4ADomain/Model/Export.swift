import Foundation

/// A one-time download link for an account's export: the token in its URL is the credential,
/// so only the token's hash is stored, and the first download (or expiry) ends it.
public struct ExportLink: Sendable, Equatable {
    public var id: String
    public var accountID: String
    public var tokenHash: String
    public var includeFiles: Bool
    public var createdAt: Date
    public var expiresAt: Date

    public init(id: String, accountID: String, tokenHash: String, includeFiles: Bool, createdAt: Date, expiresAt: Date) {
        self.id = id
        self.accountID = accountID
        self.tokenHash = tokenHash
        self.includeFiles = includeFiles
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// One ledger row as stored, for the export.
public struct StoredLedgerEntry: Sendable, Equatable {
    public var id: String
    public var serverID: String
    public var entry: LedgerEntry
    public var createdAt: Date

    public init(id: String, serverID: String, entry: LedgerEntry, createdAt: Date) {
        self.id = id
        self.serverID = serverID
        self.entry = entry
        self.createdAt = createdAt
    }
}
