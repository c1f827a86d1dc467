import Foundation
import S4ADomain
import SQLKit

extension SQLTransaction: ActivityRepository {
    func append(_ record: ActivityRecord, accountID: String, at: Date) async throws -> ActivityEvent {
        let last = try await db.raw("""
            SELECT seq, hash FROM activity_events WHERE account_id = \(bind: accountID) ORDER BY seq DESC LIMIT 1
            """).first()
        let previous = try last.map { (seq: try $0.int64("seq"), hash: try $0.string("hash")) }
        // The chain hashes millisecond time, as stored, so verification sees the same value.
        var event = ActivityChain.link(record, accountID: accountID, at: Date(millis: at.millis), after: previous)
        event.mac = auditKeys.mac(event)
        let metadata = String(decoding: try JSONEncoder.sorted.encode(record.metadata), as: UTF8.self)
        try await db.raw("""
            INSERT INTO activity_events (id, account_id, seq, at, actor_type, actor_id, action, target_type, target_id,
                                         project_id, metadata, prev_hash, hash, mac)
            VALUES (\(bind: event.id), \(bind: accountID), \(bind: event.seq), \(bind: event.at.millis),
                    \(bind: record.actor.type.rawValue), \(bind: record.actor.id), \(bind: record.action),
                    \(bind: record.target.type), \(bind: record.target.id), \(bind: record.projectID),
                    \(bind: metadata), \(bind: event.prevHash), \(bind: event.hash), \(bind: event.mac))
            """).run()
        return event
    }

    func activity(_ query: ActivityQuery) async throws -> Page<ActivityEvent> {
        if let only = query.projectIDs, only.isEmpty { return Page(items: [], nextCursor: nil) }
        var sql = SQLQueryString("SELECT * FROM activity_events WHERE account_id = \(bind: query.accountID)")
        if let only = query.projectIDs { sql = sql + " AND project_id IN (\(binds: only.sorted()))" }
        if let action = query.action { sql = sql + " AND action = \(bind: action)" }
        if let cursor = query.cursor {
            guard let seq = Int64(try Cursor.decode(cursor, parts: 1)[0]) else {
                throw DomainError.invalid("cursor", "is not a cursor this API issued")
            }
            sql = sql + " AND seq < \(bind: seq)"
        }
        sql = sql + " ORDER BY seq DESC LIMIT \(literal: query.limit + 1)"
        let rows = try await db.raw(sql).all()
        let items = try rows.prefix(query.limit).map(Self.event)
        let next = rows.count > query.limit ? items.last.map { Cursor.encode([String($0.seq)]) } : nil
        return Page(items: items, nextCursor: next)
    }

    func chain(accountID: String) async throws -> [ActivityEvent] {
        try await db.raw("SELECT * FROM activity_events WHERE account_id = \(bind: accountID) ORDER BY seq ASC")
            .all().map(Self.event)
    }

    func activity(in range: ActivityRange) async throws -> [ActivityEvent] {
        if let only = range.projectIDs, only.isEmpty { return [] }
        var sql = SQLQueryString("""
            SELECT * FROM activity_events WHERE account_id = \(bind: range.accountID) AND seq > \(bind: range.afterSeq)
            """)
        if let only = range.projectIDs { sql = sql + " AND project_id IN (\(binds: only.sorted()))" }
        if let action = range.action { sql = sql + " AND action = \(bind: action)" }
        if let since = range.since { sql = sql + " AND at >= \(bind: since.millis)" }
        if let until = range.until { sql = sql + " AND at <= \(bind: until.millis)" }
        sql = sql + " ORDER BY seq ASC LIMIT \(literal: range.limit)"
        return try await db.raw(sql).all().map(Self.event)
    }

    func accountIDsWithActivity() async throws -> [String] {
        try await db.raw("SELECT DISTINCT account_id FROM activity_events ORDER BY account_id").all()
            .map { try $0.string("account_id") }
    }

    func chainHeads() async throws -> [ChainHead] {
        try await db.raw("""
            SELECT e.account_id, e.seq, e.hash FROM activity_events e
            JOIN (SELECT account_id, MAX(seq) AS top FROM activity_events GROUP BY account_id) h
              ON e.account_id = h.account_id AND e.seq = h.top
            ORDER BY e.account_id
            """).all().map { ChainHead(accountID: try $0.string("account_id"), seq: try $0.int64("seq"), hash: try $0.string("hash")) }
    }

    func setActivityMAC(eventID: String, mac: String) async throws {
        try await db.raw("UPDATE activity_events SET mac = \(bind: mac) WHERE id = \(bind: eventID)").run()
    }

    static func event(_ row: any SQLRow) throws -> ActivityEvent {
        guard let actorType = Actor.Kind(rawValue: try row.string("actor_type")) else {
            throw StoreError.corrupt("unknown actor type")
        }
        let metadataText = try row.string("metadata")
        let metadata = (try? JSONDecoder().decode([String: String].self, from: Data(metadataText.utf8))) ?? ["_unreadable": metadataText]
        let record = ActivityRecord(action: try row.string("action"),
                                    actor: Actor(type: actorType, id: try row.string("actor_id")),
                                    target: Target(type: try row.string("target_type"), id: try row.string("target_id")),
                                    projectID: try row.optionalString("project_id"), metadata: metadata)
        return ActivityEvent(id: try row.string("id"), accountID: try row.string("account_id"), seq: try row.int64("seq"),
                             at: try row.date("at"), record: record, prevHash: try row.string("prev_hash"),
                             hash: try row.string("hash"), mac: try row.optionalString("mac"))
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
