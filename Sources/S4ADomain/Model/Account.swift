import Foundation

public struct Account: Sendable, Equatable {
    public var id: String
    public var email: String
    public var passwordHash: String
    public var createdAt: Date
    /// What all the account's servers together may ever spend; nil: no limit but each cap.
    public var spendingLimit: MicroDollars?

    public init(id: String, email: String, passwordHash: String, createdAt: Date, spendingLimit: MicroDollars? = nil) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.createdAt = createdAt
        self.spendingLimit = spendingLimit
    }
}

/// A signed-in browser or CLI. Only the token's hash is stored.
public struct Session: Sendable, Equatable {
    public var id: String
    public var accountID: String
    public var tokenHash: String
    public var createdAt: Date
    public var expiresAt: Date

    public init(id: String, accountID: String, tokenHash: String, createdAt: Date, expiresAt: Date) {
        self.id = id
        self.accountID = accountID
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}
