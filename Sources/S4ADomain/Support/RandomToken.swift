import Crypto
import Foundation

/// Random identifiers and bearer tokens, and the one-way hash under which tokens are stored.
public enum RandomToken {
    static let base62 = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    static let base32 = Array("0123456789abcdefghjkmnpqrstvwxyz")

    /// `count` characters drawn uniformly from `alphabet` using the system CSPRNG.
    static func string(count: Int, alphabet: [Character]) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// A bearer token: `prefix` followed by 43 base62 characters (256.1 bits of randomness).
    public static func bearer(prefix: String) -> String {
        prefix + string(count: 43, alphabet: base62)
    }

    /// A resource id such as `prj_…`: 20 lowercase base32 characters (100 bits).
    public static func id(_ prefix: IDPrefix) -> String {
        prefix.rawValue + "_" + string(count: 20, alphabet: base32)
    }

    /// SHA-256 of a token, hex-encoded: the only form in which tokens are stored.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).hex
    }
}

public enum IDPrefix: String, Sendable {
    case account = "acc"
    case session = "ses"
    case apiKey = "key"
    case project = "prj"
    case event = "evt"
    case server = "srv"
    case run = "run"
    case secret = "sec"
    case lease = "lse"
    case ledgerEntry = "led"
    case deployment = "dep"
    case incident = "inc"
    case export = "exp"
    case logDrain = "ldr"
    case attempt = "att"
    case failure = "err"
}

extension Sequence where Element == UInt8 {
    /// Lowercase hexadecimal. A table, not String(format:): this is on every request's path
    /// (token hashes), where formatting cost more than the SHA-256 itself.
    public var hex: String {
        var characters: [UInt8] = []
        characters.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            characters.append(hexDigits[Int(byte >> 4)])
            characters.append(hexDigits[Int(byte & 0x0f)])
        }
        return String(decoding: characters, as: UTF8.self)
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)
