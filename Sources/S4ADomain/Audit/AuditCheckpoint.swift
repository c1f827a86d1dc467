import Foundation

/// A signed statement of where an account's activity chain stood: its head (`seq`, `hash`) at
/// `at`, or (`deleted`) that the account was deleted on purpose, so its events' absence is no
/// loss. Checkpoints live outside the database (`CheckpointFile`), so whoever rewrites the
/// database cannot bring them in line: a chain shorter than a checkpoint was truncated, one
/// whose event at the checkpoint's seq has another hash was rewritten, an account with
/// checkpoints and no events had its events deleted.
public struct AuditCheckpoint: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case head, deleted }

    public var kind: Kind
    public var accountID: String
    public var seq: Int64
    public var hash: String
    /// RFC 3339, as signed (never re-formatted).
    public var at: String
    public var keyID: String
    /// Ed25519 over `signedBytes`, base64.
    public var signature: String

    /// Signs a checkpoint of `accountID`'s chain at (`seq`, `hash`).
    public static func make(_ kind: Kind, accountID: String, seq: Int64, hash: String, at: Date,
                            keys: AuditKeys) throws -> AuditCheckpoint {
        var checkpoint = AuditCheckpoint(kind: kind, accountID: accountID, seq: seq, hash: hash,
                                         at: Timestamp.rfc3339(at), keyID: keys.keyID, signature: "")
        checkpoint.signature = try keys.sign(checkpoint.signedBytes).base64EncodedString()
        return checkpoint
    }

    /// What the signature covers: every field but the signature, one a line (no field may hold
    /// a newline: `parse` refuses them), under a label of its own.
    var signedBytes: Data {
        Data((["s4a audit checkpoint v1", kind.rawValue, accountID, String(seq), hash, at, keyID]
              .joined(separator: "\n")).utf8)
    }

    /// Whether `keys` signed exactly this.
    public func isSigned(by keys: AuditKeys) -> Bool {
        guard keyID == keys.keyID, let signature = Data(base64Encoded: signature), signature.count == 64 else { return false }
        return keys.isValid(signature: signature, for: signedBytes)
    }

    // MARK: The file's line format

    /// One JSON object, no newline.
    public var jsonLine: [UInt8] {
        (try? Self.encoder.encode(Line(self))).map(Array.init) ?? []
    }

    /// The longest line a checkpoint makes is far below this; longer lines are not read.
    public static let maxLineBytes = 1024
    /// seq stays far from Int64's end, so a chain walk past it never overflows.
    static let maxSeq: Int64 = 1 << 62

    /// Reads one line of the file: nil unless it is a well-formed checkpoint (bounded, every
    /// field validated; signature not checked here). Never traps, whatever the bytes.
    public static func parse<Bytes: Collection>(_ bytes: Bytes) -> AuditCheckpoint? where Bytes.Element == UInt8 {
        guard !bytes.isEmpty, bytes.count <= maxLineBytes,
              let line = try? JSONDecoder().decode(Line.self, from: Data(bytes)) else { return nil }
        guard line.v == 1, isID(line.account_id), (0...maxSeq).contains(line.seq), isHex(line.hash, count: 64),
              isHex(line.key_id, count: 16), line.at.utf8.count <= 40,
              line.at.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }), line.sig.utf8.count <= 128,
              line.sig.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
        return AuditCheckpoint(kind: line.kind, accountID: line.account_id, seq: line.seq, hash: line.hash, at: line.at,
                               keyID: line.key_id, signature: line.sig)
    }

    static func isID(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy {
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                    || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
            }
    }

    static func isHex(_ text: String, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
        }
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    // swiftlint:disable identifier_name
    private struct Line: Codable {
        var v: Int
        var kind: Kind
        var account_id: String
        var seq: Int64
        var hash: String
        var at: String
        var key_id: String
        var sig: String

        init(_ c: AuditCheckpoint) {
            v = 1
            kind = c.kind
            account_id = c.accountID
            seq = c.seq
            hash = c.hash
            at = c.at
            key_id = c.keyID
            sig = c.signature
        }
    }
    // swiftlint:enable identifier_name
}
