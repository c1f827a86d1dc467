import Crypto
import Foundation

/// Envelope encryption with AES-256-GCM: the master key wraps each project's data key (the
/// project id as associated data), and the data key seals each value (project, scope, server
/// and name as associated data), so a ciphertext moved to another row, project or key fails
/// to open. Sealed bytes are nonce ‖ ciphertext ‖ tag (CryptoKit's combined form), a fresh
/// random 96-bit nonce each time.
public enum Envelope {
    /// A new project data key, wrapped by `master`.
    public static func newDataKey(projectID: String, master: MasterKey) throws -> (key: SymmetricKey, wrapped: Data) {
        let key = SymmetricKey(size: .bits256)
        return (key, try wrap(key, projectID: projectID, master: master))
    }

    public static func wrap(_ key: SymmetricKey, projectID: String, master: MasterKey) throws -> Data {
        let plain = key.withUnsafeBytes { Data($0) }
        return try seal(plain, key: master.key, context: "dek|\(projectID)")
    }

    public static func unwrap(_ wrapped: Data, projectID: String, master: MasterKey) throws -> SymmetricKey {
        SymmetricKey(data: try open(wrapped, key: master.key, context: "dek|\(projectID)"))
    }

    /// Wrap version 2: the wrapping key is HKDF-SHA256 of the master key salted with the
    /// project's shred key (kept outside the database), so the wrapped key opens only while that
    /// shred key exists; destroying it shreds every copy of the wrapped key, backups included.
    public static func wrap(_ key: SymmetricKey, projectID: String, master: MasterKey, shredKey: [UInt8]) throws -> Data {
        let plain = key.withUnsafeBytes { Data($0) }
        return try seal(plain, key: wrappingKey(projectID: projectID, master: master, shredKey: shredKey),
                        context: "dek2|\(projectID)")
    }

    public static func unwrap(_ wrapped: Data, projectID: String, master: MasterKey, shredKey: [UInt8]) throws -> SymmetricKey {
        SymmetricKey(data: try open(wrapped, key: wrappingKey(projectID: projectID, master: master, shredKey: shredKey),
                                    context: "dek2|\(projectID)"))
    }

    static func wrappingKey(projectID: String, master: MasterKey, shredKey: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: master.key, salt: shredKey,
                               info: Data("s4a project data key wrap v2|\(projectID)".utf8), outputByteCount: 32)
    }

    public static func sealValue(_ value: String, key: SymmetricKey, address: SecretAddress) throws -> Data {
        try seal(Data(value.utf8), key: key, context: address.associatedData)
    }

    public static func openValue(_ sealed: Data, key: SymmetricKey, address: SecretAddress) throws -> String {
        String(decoding: try open(sealed, key: key, context: address.associatedData), as: UTF8.self)
    }

    static func seal(_ plain: Data, key: SymmetricKey, context: String) throws -> Data {
        guard let combined = try AES.GCM.seal(plain, using: key, nonce: AES.GCM.Nonce(),
                                              authenticating: Data(context.utf8)).combined else {
            throw DomainError(.runtimeFailed, "Sealing failed.")
        }
        return combined
    }

    static func open(_ sealed: Data, key: SymmetricKey, context: String) throws -> Data {
        do {
            return try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key, authenticating: Data(context.utf8))
        } catch {
            throw VaultError.cannotOpen
        }
    }
}

/// Where a secret lives; bound into its ciphertext.
public struct SecretAddress: Sendable, Equatable {
    public var projectID: String
    /// nil: project scope.
    public var serverID: String?
    public var name: String

    public init(projectID: String, serverID: String?, name: String) {
        self.projectID = projectID
        self.serverID = serverID
        self.name = name
    }

    public var scope: String { serverID == nil ? "project" : "server" }
    var associatedData: String { "secret|\(projectID)|\(scope)|\(serverID ?? "")|\(name)" }
}

public enum VaultError: Error, Equatable, CustomStringConvertible {
    /// Wrong key, or bytes moved or changed: authentication failed.
    case cannotOpen
    public var description: String { "a sealed value failed authentication (wrong key, or moved or altered)" }
}

/// A project's data key as stored: sealed bytes and how they were wrapped (1: by the master key
/// alone, from before shred keys; 2: by the master key and the project's shred key).
public struct WrappedDataKey: Sendable, Equatable {
    public var wrapped: Data
    public var version: Int
    public init(wrapped: Data, version: Int) {
        self.wrapped = wrapped
        self.version = version
    }
    public static let shreddable = 2
}
