import Foundation

/// A secret as the store keeps it: the value only sealed, and its size (for the project's quota).
public struct SecretRecord: Sendable, Equatable {
    public var id: String
    public var accountID: String
    public var address: SecretAddress
    public var version: Int
    public var sealed: Data
    public var valueBytes: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, accountID: String, address: SecretAddress, version: Int, sealed: Data, valueBytes: Int,
                createdAt: Date, updatedAt: Date) {
        self.id = id
        self.accountID = accountID
        self.address = address
        self.version = version
        self.sealed = sealed
        self.valueBytes = valueBytes
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
