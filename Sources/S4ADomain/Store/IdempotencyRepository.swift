import Foundation

/// Stored answers to requests that carried an `Idempotency-Key` (the table
/// `idempotency_records`).
public protocol IdempotencyRepository: Sendable {
    func idempotencyRecord(id: String) async throws -> IdempotencyRecord?
    /// Inserts a pending record; false if one with that id exists.
    func insertPending(_ record: IdempotencyRecord) async throws -> Bool
    func complete(idempotencyID: String, status: Int, contentType: String?, sealedBody: [UInt8]) async throws
    func deleteIdempotencyRecord(id: String) async throws
}

/// A stored answer to a request that carried an `Idempotency-Key`.
public struct IdempotencyRecord: Sendable, Equatable {
    public var id: String
    public var accountID: String
    public var fingerprint: String
    /// nil while the first request is still being handled.
    public var status: Int?
    public var contentType: String?
    /// The answer's body, sealed under a key derived from the Idempotency-Key itself.
    public var sealedBody: [UInt8]?
    public var createdAt: Date
    public init(id: String, accountID: String, fingerprint: String, status: Int?, contentType: String?,
                sealedBody: [UInt8]?, createdAt: Date) {
        self.id = id
        self.accountID = accountID
        self.fingerprint = fingerprint
        self.status = status
        self.contentType = contentType
        self.sealedBody = sealedBody
        self.createdAt = createdAt
    }
}
