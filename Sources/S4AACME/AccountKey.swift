import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The ACME account's key: a P-256 key in a PEM file (mode 0600), created on first use and
/// reused after, so every order runs under the same account.
enum AccountKey {
    static func loadOrCreate(path: String) throws -> P256.Signing.PrivateKey {
        if let existing = try load(path: path) { return existing }
        let key = P256.Signing.PrivateKey()
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        // Written to a private temporary file, then linked into place: link fails if another
        // process created the key meanwhile, and then everyone uses that one.
        let temporary = path + ".\(UUID().uuidString).tmp"
        defer { unlink(temporary) }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw ACMEError.accountKey(path: path, reason: "cannot create (errno \(errno))") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        try handle.write(contentsOf: Data(key.pemRepresentation.utf8))
        try handle.synchronize()
        try handle.close()
        if link(temporary, path) != 0 {
            let code = errno
            if code == EEXIST, let existing = try load(path: path) { return existing }
            throw ACMEError.accountKey(path: path, reason: "cannot write (errno \(code))")
        }
        return key
    }

    private static func load(path: String) throws -> P256.Signing.PrivateKey? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw ACMEError.accountKey(path: path, reason: "not a P-256 private key in PEM")
        }
    }
}
