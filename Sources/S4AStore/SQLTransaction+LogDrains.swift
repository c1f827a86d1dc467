import Foundation
import S4ADomain
import SQLKit

/// Log drains. Kinds are space-separated words; the sealed secret is base64 text, as the vault's.
extension SQLTransaction: LogDrainRepository {
    func insert(_ drain: LogDrain) async throws {
        let progress = drain.progress
        let marks = try Self.marks(progress.logMarks)
        try await db.raw("""
            INSERT INTO log_drains (id, account_id, project_id, url, kinds, sealed_secret, created_at, record_seq,
                                    activity_seq, logs_after, log_marks, delivered, dropped, last_success_at, last_error,
                                    last_error_at)
            VALUES (\(bind: drain.id), \(bind: drain.accountID), \(bind: drain.projectID), \(bind: drain.url),
                    \(bind: drain.kinds.sorted().map(\.rawValue).joined(separator: " ")),
                    \(bind: drain.sealedSecret.base64EncodedString()), \(bind: drain.createdAt.millis),
                    \(bind: progress.recordSeq), \(bind: progress.activitySeq), \(bind: progress.logsAfter.millis),
                    \(bind: marks), \(bind: progress.delivered), \(bind: progress.dropped),
                    \(bind: progress.lastSuccessAt?.millis), \(bind: progress.lastError), \(bind: progress.lastErrorAt?.millis))
            """).run()
    }

    func logDrain(id: String, projectID: String) async throws -> LogDrain? {
        try await db.raw("SELECT * FROM log_drains WHERE id = \(bind: id) AND project_id = \(bind: projectID)")
            .first().map(Self.logDrain)
    }

    func logDrains(projectID: String) async throws -> [LogDrain] {
        try await db.raw("SELECT * FROM log_drains WHERE project_id = \(bind: projectID) ORDER BY created_at, id")
            .all().map(Self.logDrain)
    }

    func claimLogDrains(owner: String, until: Date, now: Date) async throws -> [LogDrain] {
        // One statement decides per row: a replica racing for the same row waits for the other's
        // update and then finds the claim taken (PostgreSQL re-checks the condition; SQLite has one writer).
        try await db.raw("""
            UPDATE log_drains SET claimed_by = \(bind: owner), claimed_until = \(bind: until.millis)
            WHERE claimed_by = \(bind: owner) OR claimed_until IS NULL OR claimed_until < \(bind: now.millis)
            """).run()
        return try await db.raw("SELECT * FROM log_drains WHERE claimed_by = \(bind: owner) ORDER BY created_at, id")
            .all().map(Self.logDrain)
    }

    func releaseLogDrains(owner: String) async throws {
        try await db.raw("UPDATE log_drains SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = \(bind: owner)").run()
    }

    func deleteLogDrain(id: String) async throws {
        try await db.raw("DELETE FROM log_drains WHERE id = \(bind: id)").run()
    }

    func updateLogDrainProgress(id: String, _ progress: DrainProgress) async throws {
        let marks = try Self.marks(progress.logMarks)
        try await db.raw("""
            UPDATE log_drains SET record_seq = \(bind: progress.recordSeq), activity_seq = \(bind: progress.activitySeq),
                   logs_after = \(bind: progress.logsAfter.millis), log_marks = \(bind: marks),
                   delivered = \(bind: progress.delivered),
                   dropped = \(bind: progress.dropped), last_success_at = \(bind: progress.lastSuccessAt?.millis),
                   last_error = \(bind: progress.lastError), last_error_at = \(bind: progress.lastErrorAt?.millis)
            WHERE id = \(bind: id)
            """).run()
    }

    static func marks(_ marks: [String: LogMark]) throws -> String {
        String(decoding: try JSONEncoder.sorted.encode(marks), as: UTF8.self)
    }

    static func logDrain(_ row: any SQLRow) throws -> LogDrain {
        let kinds = try row.string("kinds").split(separator: " ").map { raw in
            guard let kind = DrainKind(rawValue: String(raw)) else { throw StoreError.corrupt("unknown drain kind") }
            return kind
        }
        let progress = DrainProgress(
            recordSeq: try row.int64("record_seq"), activitySeq: try row.int64("activity_seq"),
            logsAfter: try row.date("logs_after"),
            logMarks: try JSONDecoder().decode([String: LogMark].self, from: Data(try row.string("log_marks").utf8)),
            delivered: try row.int64("delivered"), dropped: try row.int64("dropped"),
            lastSuccessAt: try row.optionalDate("last_success_at"), lastError: try row.optionalString("last_error"),
            lastErrorAt: try row.optionalDate("last_error_at"))
        return LogDrain(id: try row.string("id"), accountID: try row.string("account_id"),
                        projectID: try row.string("project_id"), url: try row.string("url"), kinds: Set(kinds),
                        sealedSecret: try bytes(row, "sealed_secret"), createdAt: try row.date("created_at"),
                        progress: progress)
    }
}
