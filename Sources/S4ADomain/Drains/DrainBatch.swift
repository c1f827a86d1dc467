import Crypto
import Foundation

/// One POST of a drain: records as JSON Lines, each with the drain's next `seq` (1, 2, 3… with
/// no gap between delivered batches) and an `id` (`<drain>:<seq>`), so an endpoint that sees a
/// retried batch again (same `X-S4A-Batch`, same ids) can tell. Built once and retried unchanged.
public struct DrainBatch: Sendable, Equatable {
    /// `<drain>:<first seq>-<last seq>`.
    public var id: String
    public var body: [UInt8]
    public var firstSeq: Int64
    public var lastSeq: Int64
    /// The account-chain seq of the last activity event in the batch, if any.
    public var activitySeq: Int64?
    /// The log lines in the batch, in order: server and millisecond (to advance the marks).
    public var logStamps: [LogStamp]
    public var count: Int { Int(lastSeq - firstSeq + 1) }

    /// A batch of `items` after record `seq`, led by a `drops` record when `drops` > 0.
    public init(drainID: String, projectID: String, after seq: Int64, items: [DrainItem], drops: Int64, now: Date) {
        var lines: [[UInt8]] = []
        var next = seq
        func record(_ kind: String, _ time: Date, _ fields: [(String, String)]) -> [UInt8] {
            next += 1
            // Keys in a fixed order; values already JSON.
            let head: [(String, String)] = [("seq", String(next)), ("id", Self.string("\(drainID):\(next)")),
                                            ("kind", Self.string(kind)), ("time", Self.string(Timestamp.rfc3339(time))),
                                            ("project_id", Self.string(projectID))]
            return Array(("{" + (head + fields).map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n").utf8)
        }
        if drops > 0 { lines.append(record("drops", now, [("count", String(drops))])) }
        var activitySeq: Int64?
        var logStamps: [LogStamp] = []
        for item in items {
            switch item {
            case .activity(let event):
                lines.append(record("activity", event.at, [("event", String(decoding: ActivityExport.json(event), as: UTF8.self))]))
                activitySeq = event.seq
            case .log(let serverID, let line):
                lines.append(record("log", line.time, [("server_id", Self.string(serverID)), ("process", Self.string(line.process)),
                                                       ("stream", Self.string(line.stream.rawValue)), ("text", Self.string(line.text))]))
                logStamps.append(LogStamp(serverID: serverID, millis: line.millis))
            }
        }
        id = "\(drainID):\(seq + 1)-\(next)"
        body = lines.flatMap { $0 }
        firstSeq = seq + 1
        lastSeq = next
        self.activitySeq = activitySeq
        self.logStamps = logStamps
    }

    /// The servers' marks once this batch is delivered.
    public func advance(_ marks: inout [String: LogMark]) {
        for stamp in logStamps {
            marks[stamp.serverID, default: LogMark(millis: .min, count: 0)].advance(stamp.millis)
        }
    }

    /// The request's headers: the signature covers `<timestamp>.<body>`, so a captured batch
    /// cannot be replayed later under a fresh timestamp.
    public func headers(drainID: String, secret: String, now: Date) -> [(name: String, value: String)] {
        let timestamp = String(Int64(now.timeIntervalSince1970))
        return [("Content-Type", "application/x-ndjson"), ("User-Agent", "s4a-log-drain"), ("X-S4A-Drain", drainID),
                ("X-S4A-Batch", id), ("X-S4A-Timestamp", timestamp),
                ("X-S4A-Signature", Self.signature(secret: secret, timestamp: timestamp, body: body))]
    }

    /// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the secret>`.
    public static func signature(secret: String, timestamp: String, body: [UInt8]) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Data((timestamp + ".").utf8))
        hmac.update(data: body)
        return "sha256=" + Data(hmac.finalize()).hex
    }

    /// A JSON string literal.
    static func string(_ text: String) -> String {
        let data = (try? encoder.encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()
}

public struct LogStamp: Sendable, Equatable {
    public var serverID: String
    public var millis: Int64
    public init(serverID: String, millis: Int64) {
        self.serverID = serverID
        self.millis = millis
    }
}
