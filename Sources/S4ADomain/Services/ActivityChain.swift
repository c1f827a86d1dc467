import Crypto
import Foundation

/// The hash chain over an account's events: each hash covers the event and the previous hash,
/// so editing, deleting or reordering any event breaks every later link.
public enum ActivityChain {
    /// The `prevHash` of an account's first event.
    public static let genesis = String(repeating: "0", count: 64)

    /// The hash of an event with the given fields; `hash` itself is not an input.
    public static func hash(accountID: String, seq: Int64, id: String, at: Date, record: ActivityRecord,
                            prevHash: String) -> String {
        // A fixed field order and escaping make the text canonical across engines and versions.
        let metadata = record.metadata.keys.sorted().map { "\(quote($0)):\(quote(record.metadata[$0]!))" }
        let fields: [String] = [
            quote(prevHash), quote(accountID), String(seq), quote(id),
            String(Int64((at.timeIntervalSince1970 * 1000).rounded())),
            quote(record.action), quote(record.actor.type.rawValue), quote(record.actor.id),
            quote(record.target.type), quote(record.target.id), quote(record.projectID ?? ""),
            "{" + metadata.joined(separator: ",") + "}",
        ]
        return SHA256.hash(data: Data(("[" + fields.joined(separator: ",") + "]").utf8)).hex
    }

    /// Builds the next event of a chain whose last link is `previous` (nil for the first).
    public static func link(_ record: ActivityRecord, accountID: String, at: Date,
                            after previous: (seq: Int64, hash: String)?) -> ActivityEvent {
        let seq = (previous?.seq ?? 0) + 1
        let prevHash = previous?.hash ?? genesis
        let id = RandomToken.id(.event)
        let hash = hash(accountID: accountID, seq: seq, id: id, at: at, record: record, prevHash: prevHash)
        return ActivityEvent(id: id, accountID: accountID, seq: seq, at: at, record: record,
                             prevHash: prevHash, hash: hash)
    }

    public struct Break: Sendable, Equatable, CustomStringConvertible {
        public var accountID: String
        public var seq: Int64
        public var eventID: String
        public var reason: String
        public var description: String { "account \(accountID): event #\(seq) (\(eventID)) \(reason)" }
    }

    /// The first broken link of one account's events (given in chain order), or nil; from the
    /// chain's start, or continuing after `previous` (a link already checked, seq below 2^62).
    public static func verify(_ events: [ActivityEvent], after previous: (seq: Int64, hash: String)? = nil) -> Break? {
        var expectedSeq: Int64 = (previous?.seq ?? 0) + 1
        var prevHash = previous?.hash ?? genesis
        for event in events {
            func broken(_ reason: String) -> Break {
                Break(accountID: event.accountID, seq: event.seq, eventID: event.id, reason: reason)
            }
            if event.seq != expectedSeq { return broken("is out of sequence (expected #\(expectedSeq))") }
            if event.prevHash != prevHash { return broken("does not link to the event before it") }
            let recomputed = hash(accountID: event.accountID, seq: event.seq, id: event.id, at: event.at,
                                  record: event.record, prevHash: event.prevHash)
            if recomputed != event.hash { return broken("was altered: its hash does not match its content") }
            prevHash = event.hash
            expectedSeq += 1
        }
        return nil
    }

    private static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
