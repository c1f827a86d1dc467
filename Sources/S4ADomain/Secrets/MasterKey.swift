import Crypto
import Foundation

/// The key-encryption key (KEK): 256 bits the operator holds, in a file or a variable, never in
/// the store. It wraps each project's data key; only its fingerprint is stored, to refuse a
/// start with the wrong key before anything is written.
public struct MasterKey: Sendable {
    let key: SymmetricKey

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw DomainError(.invalidRequest, "A master key is 32 bytes (256 bits), base64.") }
        key = SymmetricKey(data: bytes)
    }

    /// From base64 text (a file's contents or `S4A_MASTER_KEY`); surrounding whitespace is ignored.
    public init(base64 text: String) throws {
        guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw DomainError(.invalidRequest, "The master key is not base64.")
        }
        try self.init(bytes: Array(data))
    }

    public static func generate() -> MasterKey {
        // swiftlint:disable:next force_try
        try! MasterKey(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    public var base64: String { key.withUnsafeBytes { Data($0).base64EncodedString() } }

    /// Names the key without revealing it: SHA-256 over a label and the key, hex, shortened.
    public var fingerprint: String {
        var hash = SHA256()
        hash.update(data: Data("s4a master key fingerprint v1".utf8))
        key.withUnsafeBytes { hash.update(bufferPointer: $0) }
        return hash.finalize().map { String(format: "%02x", $0) }.joined().prefix(32).description
    }
}
