import Foundation

/// An agent's credential. The token itself is never stored, only its SHA-256.
public struct APIKey: Sendable, Equatable {
    public var id: String
    public var accountID: String
    /// The key that created this one, if a key did; such a key may revoke it.
    public var parentKeyID: String?
    public var name: String
    public var tokenHash: String
    /// The token's first characters, shown so people can recognise it.
    public var prefix: String
    public var scopes: Set<Scope>
    /// nil: every project of the account.
    public var projectIDs: Set<String>?
    public var expiresAt: Date?
    public var maxServerBudget: MicroDollars?
    /// What the servers it (and the keys it made) created may ever cost together: the caps of
    /// those that live plus what the deleted ones were charged. nil: no such bound.
    public var maxTotalBudget: MicroDollars?
    /// How many live servers it (and the keys it made) may have created. nil: no such bound.
    public var maxServers: Int?
    public var createdAt: Date
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(id: String, accountID: String, parentKeyID: String?, name: String, tokenHash: String,
                prefix: String, scopes: Set<Scope>, projectIDs: Set<String>?, expiresAt: Date?,
                maxServerBudget: MicroDollars?, maxTotalBudget: MicroDollars? = nil, maxServers: Int? = nil, createdAt: Date,
                lastUsedAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.accountID = accountID
        self.parentKeyID = parentKeyID
        self.name = name
        self.tokenHash = tokenHash
        self.prefix = prefix
        self.scopes = scopes
        self.projectIDs = projectIDs
        self.expiresAt = expiresAt
        self.maxServerBudget = maxServerBudget
        self.maxTotalBudget = maxTotalBudget
        self.maxServers = maxServers
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    public func isUsable(at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { now < $0 } ?? true)
    }

    /// Token formats: `s4a_` keys and `s4s_` sessions, so a leaked token says what it is.
    public static let tokenPrefix = "s4a_"
    public static let visiblePrefixLength = 12
}
