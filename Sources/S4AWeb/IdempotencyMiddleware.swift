import Crypto
import Foundation
import HTTPTypes
import OpenAPIRuntime
import S4ADomain

/// `Idempotency-Key` on creating POSTs: the same key and body replays the first answer for
/// 24 hours; the same key with another body answers 422. Stored answers are sealed under a key
/// derived from the Idempotency-Key itself, so a token in a replayable answer (a new API key)
/// is not readable from the database.
public struct IdempotencyMiddleware: ServerMiddleware {
    let store: any Store
    let now: @Sendable () -> Date
    let maxBodyBytes: Int
    /// The authenticated caller of this request (the API's auth middleware sets it); a request
    /// without one is not idempotent.
    let principal: @Sendable () -> Principal?
    static let header = HTTPField.Name("Idempotency-Key")!
    static let lifetime: TimeInterval = 24 * 3600
    /// Never replayed: the body carries the password (whose digest would be the stored
    /// fingerprint) and the answer is a one-time link.
    static let unreplayable: Set<String> = ["createExport"]

    public init(store: any Store, now: @escaping @Sendable () -> Date, maxBodyBytes: Int,
                principal: @escaping @Sendable () -> Principal?) {
        self.store = store
        self.now = now
        self.maxBodyBytes = maxBodyBytes
        self.principal = principal
    }

    public func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        guard request.method == .post, !Self.unreplayable.contains(operationID), let key = request.headerFields[Self.header],
              let principal = self.principal() else {
            return try await next(request, body, metadata)
        }
        guard (1...255).contains(key.utf8.count) else { throw DomainError.invalid("Idempotency-Key", "must be 1 to 255 characters") }
        var bytes: [UInt8] = []
        if let body { bytes = try await [UInt8](collecting: body, upTo: maxBodyBytes) }
        let fingerprint = SHA256.hash(data: Data(operationID.utf8) + [0] + Self.canonical(bytes)).hex
        let id = SHA256.hash(data: Data("\(principal.accountID)\n\(principal.actor.id)\n\(key)".utf8)).hex
        let sealKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: Data(key.utf8)),
                                             salt: Data(id.utf8), info: Data("s4a idempotency".utf8), outputByteCount: 32)
        let now = self.now()

        if var existing = try await store.read({ tx in try await tx.idempotency.idempotencyRecord(id: id) }) {
            if existing.createdAt < now.addingTimeInterval(-Self.lifetime) {
                try await store.write { tx in try await tx.idempotency.deleteIdempotencyRecord(id: id) }
            } else {
                existing.id = id
                return try replay(existing, fingerprint: fingerprint, key: sealKey)
            }
        }
        let pending = IdempotencyRecord(id: id, accountID: principal.accountID, fingerprint: fingerprint, status: nil,
                                        contentType: nil, sealedBody: nil, createdAt: now)
        guard try await store.write({ tx in try await tx.idempotency.insertPending(pending) }) else {
            throw DomainError(.idempotencyInProgress, "A request with this Idempotency-Key is already being handled.")
        }
        do {
            let (response, responseBody) = try await next(request, HTTPBody(bytes), metadata)
            var answer: [UInt8] = []
            if let responseBody { answer = try await [UInt8](collecting: responseBody, upTo: 4 << 20) }
            if response.status.code < 500 {
                let sealed = try AES.GCM.seal(answer, using: sealKey).combined.map { [UInt8]($0) } ?? []
                let contentType: String? = response.headerFields[.contentType]
                try await store.write { tx in
                    try await tx.idempotency.complete(idempotencyID: id, status: response.status.code, contentType: contentType,
                                          sealedBody: sealed)
                }
            } else {
                try await store.write { tx in try await tx.idempotency.deleteIdempotencyRecord(id: id) }
            }
            return (response, HTTPBody(answer))
        } catch {
            // A refused request may be retried with the same key once its cause is fixed.
            try? await store.write { tx in try await tx.idempotency.deleteIdempotencyRecord(id: id) }
            throw error
        }
    }

    /// JSON bodies compare by content, not key order or spacing; anything else byte for byte.
    static func canonical(_ bytes: [UInt8]) -> [UInt8] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed]) else {
            return bytes
        }
        return [UInt8](data)
    }

    func replay(_ record: IdempotencyRecord, fingerprint: String, key: SymmetricKey) throws -> (HTTPResponse, HTTPBody?) {
        guard record.fingerprint == fingerprint else {
            throw DomainError(.idempotencyMismatch, "This Idempotency-Key was used with a different request.")
        }
        guard let status = record.status, let sealed = record.sealedBody else {
            throw DomainError(.idempotencyInProgress, "A request with this Idempotency-Key is already being handled.")
        }
        let answer = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key)
        var response = HTTPResponse(status: .init(code: status))
        if let contentType = record.contentType { response.headerFields[.contentType] = contentType }
        response.headerFields[HTTPField.Name("Idempotent-Replayed")!] = "true"
        return (response, HTTPBody([UInt8](answer)))
    }
}
