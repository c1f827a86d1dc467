import Crypto
import Foundation

/// The audit trail's keys, derived from the master key by HKDF, so none of them is ever in the
/// database: an HMAC-SHA256 key that seals each activity event (a chain rewritten and rehashed
/// by someone with only the database fails its MACs), and an Ed25519 key that signs checkpoints
/// of each chain's head (kept outside the database; its public half lets a reader of an export
/// check them without the master key).
public struct AuditKeys: Sendable {
    let macKey: SymmetricKey
    let signingKey: Curve25519.Signing.PrivateKey
    /// The master key's fingerprint: MACs are only ever made under the vault's own key.
    public let masterFingerprint: String

    public init(master: MasterKey) throws {
        macKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: master.key, info: Data("s4a activity event mac v1".utf8),
                                        outputByteCount: 32)
        let seed = HKDF<SHA256>.deriveKey(inputKeyMaterial: master.key, info: Data("s4a audit checkpoint ed25519 v1".utf8),
                                          outputByteCount: 32)
        signingKey = try Curve25519.Signing.PrivateKey(rawRepresentation: seed.withUnsafeBytes { Data($0) })
        masterFingerprint = master.fingerprint
    }

    /// The checkpoint-signing public key, base64 (32 bytes).
    public var publicKey: String { signingKey.publicKey.rawRepresentation.base64EncodedString() }

    /// Names the signing key in each checkpoint (a rotated master key signs under another id).
    public var keyID: String { String(SHA256.hash(data: signingKey.publicKey.rawRepresentation).hex.prefix(16)) }

    /// The event's MAC, hex. It covers the event's hash, which covers every field and the link
    /// to the event before, so it binds the whole event and its place in the chain.
    public func mac(_ event: ActivityEvent) -> String { mac(hash: event.hash) }

    /// The MAC of the event whose hash this is.
    public func mac(hash: String) -> String { Array(code(hash: hash)).hex }

    /// Whether the event carries the MAC this key gives it (constant time).
    public func macMatches(_ event: ActivityEvent) -> Bool {
        guard let mac = event.mac, let bytes = Self.bytes(hex: mac), bytes.count == SHA256.byteCount else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(bytes, authenticating: Self.macInput(event.hash), using: macKey)
    }

    func sign(_ message: Data) throws -> Data { try signingKey.signature(for: message) }

    func isValid(signature: Data, for message: Data) -> Bool {
        signingKey.publicKey.isValidSignature(signature, for: message)
    }

    private func code(hash: String) -> HashedAuthenticationCode<SHA256> {
        HMAC<SHA256>.authenticationCode(for: Self.macInput(hash), using: macKey)
    }

    private static func macInput(_ hash: String) -> Data { Data("s4a activity event v1\n\(hash)".utf8) }

    /// Lowercase or uppercase hex to bytes; nil for anything else (odd length, other characters).
    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
