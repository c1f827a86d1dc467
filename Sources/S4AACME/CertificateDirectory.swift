import Crypto
import Foundation
import X509
#if canImport(Glibc)
import Glibc
#endif

/// A certificate kept on disk: the chain (leaf first) and its key, as PEM, and the leaf's
/// validity, which decides when to renew.
public struct StoredCertificate: Sendable, Equatable {
    public var name: String
    public var chainPEM: String
    public var keyPEM: String
    public var notBefore: Date
    public var notAfter: Date

    public init(name: String, chainPEM: String, keyPEM: String, notBefore: Date, notAfter: Date) {
        self.name = name
        self.chainPEM = chainPEM
        self.keyPEM = keyPEM
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// Renewal is due once less than a third of the lifetime is left (Let's Encrypt's advice:
    /// renew a 90-day certificate after 60 days).
    public func needsRenewal(at now: Date) -> Bool {
        now >= renewalDate
    }

    public var renewalDate: Date {
        notAfter.addingTimeInterval(-notAfter.timeIntervalSince(notBefore) / 3)
    }

    public func isValid(at now: Date) -> Bool { notBefore <= now && now < notAfter }
}

/// Where ACME certificates live: `<directory>/<name>.pem` (the chain, 0644) and
/// `<name>.key` (0600), plus the account key `account.key` (0600), in a 0700 directory.
public struct CertificateDirectory: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    public var accountKeyPath: String { directory.appendingPathComponent("account.key").path }

    /// Whether `name` can name a file here: a DNS name of letters, digits, `-` and `.`.
    public static func isStorable(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 253 && !name.hasPrefix(".") && !name.contains("..")
            && name.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }
    }

    func paths(_ name: String) throws -> (chain: String, key: String) {
        guard Self.isStorable(name) else { throw ACMEError.invalidRequest("not a storable host name: \(name)") }
        return (directory.appendingPathComponent(name + ".pem").path, directory.appendingPathComponent(name + ".key").path)
    }

    /// The certificate stored for `name`, or nil when there is none or it does not hold
    /// together (unreadable, no certificate, or a key that is not the leaf's).
    public func load(name: String) -> StoredCertificate? {
        guard let (chainPath, keyPath) = try? paths(name),
              let chainPEM = try? String(contentsOfFile: chainPath, encoding: .utf8),
              let keyPEM = try? String(contentsOfFile: keyPath, encoding: .utf8),
              let leaf = try? CertificateRequest.parseChain(chainPEM).first,
              let key = try? P256.Signing.PrivateKey(pemRepresentation: keyPEM),
              leaf.publicKey == Certificate.PublicKey(key.publicKey) else { return nil }
        return StoredCertificate(name: name, chainPEM: chainPEM, keyPEM: keyPEM, notBefore: leaf.notValidBefore,
                                 notAfter: leaf.notValidAfter)
    }

    /// Every certificate stored here that holds together, by name.
    public func loadAll() -> [String: StoredCertificate] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        var found: [String: StoredCertificate] = [:]
        for file in files where file.hasSuffix(".pem") {
            let name = String(file.dropLast(4))
            if let stored = load(name: name) { found[name] = stored }
        }
        return found
    }

    /// Stores what the ACME server issued for `name` (the key first, then the chain, each
    /// written atomically) and returns it as loaded back.
    @discardableResult
    public func save(_ issued: IssuedCertificate, name: String) throws -> StoredCertificate {
        let (chainPath, keyPath) = try paths(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try Self.write(issued.privateKeyPEM, to: keyPath, mode: 0o600)
        try Self.write(issued.certificateChainPEM, to: chainPath, mode: 0o644)
        guard let stored = load(name: name) else {
            throw ACMEError.invalidCertificateChain("the stored certificate for \(name) does not load back")
        }
        return stored
    }

    /// Written to a temporary file created with `mode` (so a key is never readable by
    /// others, not even for a moment), synced, then renamed into place.
    static func write(_ text: String, to path: String, mode: mode_t) throws {
        let temporary = path + ".\(UUID().uuidString).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw ACMEError.invalidRequest("cannot create \(temporary) (errno \(errno))") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        do {
            try handle.write(contentsOf: Data(text.utf8))
            try handle.synchronize()
            try handle.close()
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw ACMEError.invalidRequest("cannot write \(path) (errno \(code))")
        }
    }
}
