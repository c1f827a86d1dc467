import Foundation
import S4ADomain
import SQLKit

extension SQLTransaction: IdempotencyRepository {
    func idempotencyRecord(id: String) async throws -> IdempotencyRecord? {
        guard let row = try await db.raw("SELECT * FROM idempotency_records WHERE id = \(bind: id)").first() else { return nil }
        return IdempotencyRecord(
            id: try row.string("id"), accountID: try row.string("account_id"), fingerprint: try row.string("fingerprint"),
            status: try row.optionalInt64("status").map { Int($0) }, contentType: try row.optionalString("content_type"),
            sealedBody: try row.optionalString("sealed_body").flatMap { Data(base64Encoded: $0) }.map { [UInt8]($0) },
            createdAt: try row.date("created_at"))
    }

    func insertPending(_ record: IdempotencyRecord) async throws -> Bool {
        guard try await idempotencyRecord(id: record.id) == nil else { return false }
        try await db.raw("""
            INSERT INTO idempotency_records (id, account_id, fingerprint, created_at)
            VALUES (\(bind: record.id), \(bind: record.accountID), \(bind: record.fingerprint), \(bind: record.createdAt.millis))
            """).run()
        return true
    }

    func complete(idempotencyID: String, status: Int, contentType: String?, sealedBody: [UInt8]) async throws {
        try await db.raw("""
            UPDATE idempotency_records SET status = \(bind: status), content_type = \(bind: contentType),
                sealed_body = \(bind: Data(sealedBody).base64EncodedString())
            WHERE id = \(bind: idempotencyID)
            """).run()
    }

    func deleteIdempotencyRecord(id: String) async throws {
        try await db.raw("DELETE FROM idempotency_records WHERE id = \(bind: id)").run()
    }
}
