import Foundation

/// The export of an account's activity: each event with what its chain link needs (`seq`,
/// `prev_hash`, `hash`, the account and the time to the millisecond), so a reader can
/// recompute every hash as `ActivityChain.hash` does and check each link.
public enum ActivityExport {
    public enum Format: String, Sendable, CaseIterable {
        case jsonl, csv

        public var contentType: String { self == .jsonl ? "application/x-ndjson" : "text/csv; charset=utf-8" }
    }

    /// Rows per store read: the export streams page by page, never the whole chain at once.
    public static let pageSize = 500

    public static let csvColumns = ["account_id", "seq", "id", "at", "action", "actor_type", "actor_id",
                                    "target_type", "target_id", "project_id", "metadata", "prev_hash", "hash"]

    /// The event as one JSON object (no newline): its fields, nested as the API shows them.
    public static func json(_ event: ActivityEvent) -> [UInt8] {
        (try? encoder.encode(Line(event))).map(Array.init) ?? Array("{}".utf8)
    }

    public static func jsonLine(_ event: ActivityEvent) -> [UInt8] { json(event) + [UInt8(ascii: "\n")] }

    public static var csvHeader: [UInt8] { Array((csvColumns.map(csvField).joined(separator: ",") + "\r\n").utf8) }

    /// One CSV record (RFC 4180: CRLF line ends, fields quoted when they need it).
    public static func csvRow(_ event: ActivityEvent) -> [UInt8] {
        let record = event.record
        let metadata = (try? encoder.encode(record.metadata)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let fields = [event.accountID, String(event.seq), event.id, Timestamp.rfc3339(event.at), record.action,
                      record.actor.type.rawValue, record.actor.id, record.target.type, record.target.id,
                      record.projectID ?? "", metadata, event.prevHash, event.hash]
        return Array((fields.map(csvField).joined(separator: ",") + "\r\n").utf8)
    }

    /// The chain's latest checkpoint (JSON Lines exports of the whole chain end with it):
    /// `{"type":"checkpoint","checkpoint":{…as in the checkpoint file…},"public_key":"…"}`. Its
    /// Ed25519 signature over `s4a audit checkpoint v1`, kind, account_id, seq, hash, at and
    /// key_id (one a line) checks with the public key; the event at its seq must have its hash.
    public static func checkpointLine(_ checkpoint: AuditCheckpoint, publicKey: String) -> [UInt8] {
        let key = (try? encoder.encode(publicKey)).map(Array.init) ?? Array("\"\"".utf8)
        return Array(#"{"checkpoint":"#.utf8) + checkpoint.jsonLine + Array(#","public_key":"#.utf8) + key
            + Array(#","type":"checkpoint"}"#.utf8) + [UInt8(ascii: "\n")]
    }

    static func csvField(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private struct Line: Encodable {
        let event: ActivityEvent
        init(_ event: ActivityEvent) { self.event = event }

        enum Keys: String, CodingKey {
            case accountID = "account_id", seq, id, at, action, actor, target, projectID = "project_id", metadata
            case prevHash = "prev_hash", hash
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            let record = event.record
            try c.encode(event.accountID, forKey: .accountID)
            try c.encode(event.seq, forKey: .seq)
            try c.encode(event.id, forKey: .id)
            try c.encode(Timestamp.rfc3339(event.at), forKey: .at)
            try c.encode(record.action, forKey: .action)
            try c.encode(record.actor, forKey: .actor)
            try c.encode(record.target, forKey: .target)
            try c.encode(record.projectID, forKey: .projectID)  // null, not absent: a fixed shape
            try c.encode(record.metadata, forKey: .metadata)
            try c.encode(event.prevHash, forKey: .prevHash)
            try c.encode(event.hash, forKey: .hash)
        }
    }
}
