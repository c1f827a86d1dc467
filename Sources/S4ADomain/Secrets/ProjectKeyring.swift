import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Per-project key material kept outside the database: each project's data key is wrapped by a
/// key derived from the master key *and* its project's shred key (see `Envelope.wrap`), so
/// destroying the shred key makes the data key, and every secret under it, unopenable, even
/// from a database backup taken before, with the master key in hand.
public protocol ProjectKeyring: Sendable {
    /// The project's shred key; nil if it has none (never made, or destroyed).
    func shredKey(projectID: String) throws -> [UInt8]?
    /// Makes (or replaces) the project's shred key, durably, and returns it.
    func createShredKey(projectID: String) throws -> [UInt8]
    /// Destroys the project's shred key for good; nothing if it has none.
    func destroyShredKey(projectID: String) throws
}

/// One file per project in a directory the operator keeps out of database backups:
/// `<dir>/<project-id>.key`, 32 random bytes, mode 0600 in a 0700 directory. Destroying
/// overwrites the file with random bytes, syncs, unlinks and syncs the directory. What this
/// cannot reach: copies the operator made of the directory, and blocks a copy-on-write
/// filesystem or an SSD's wear levelling keeps; the README says so.
public struct ProjectKeyDirectory: ProjectKeyring {
    public let path: String

    public init(path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
    }

    func file(_ projectID: String) throws -> String {
        // Ids become file names: only an id's own characters.
        guard projectID.hasPrefix("prj_"), projectID.count <= 64,
              projectID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw DomainError(.invalidRequest, "Not a project id.")
        }
        return path + "/" + projectID + ".key"
    }

    public func shredKey(projectID: String) throws -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: try file(projectID)) else { return nil }
        guard data.count == 32 else { throw DomainError(.runtimeFailed, "The project's shred key file is damaged.") }
        return Array(data)
    }

    public func createShredKey(projectID: String) throws -> [UInt8] {
        let target = try file(projectID)
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        // Written beside, synced, renamed over: a crash leaves the old file or the new, whole.
        let temporary = target + ".tmp"
        try Self.write(key, to: temporary)
        guard rename(temporary, target) == 0 else { throw Self.failure("rename", target) }
        try Self.syncDirectory(path)
        return key
    }

    public func destroyShredKey(projectID: String) throws {
        let target = try file(projectID)
        guard FileManager.default.fileExists(atPath: target) else { return }
        // Overwrite in place first: an unlinked file's blocks would otherwise keep the key.
        let noise = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let fd = open(target, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd >= 0 {
            _ = noise.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            fsync(fd)
            close(fd)
        }
        guard unlink(target) == 0 || errno == ENOENT else { throw Self.failure("unlink", target) }
        try Self.syncDirectory(path)
    }

    static func write(_ bytes: [UInt8], to file: String) throws {
        unlink(file)
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw failure("open", file) }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw failure("write", file) }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open", path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure("fsync", path) }
    }

    static func failure(_ call: String, _ file: String) -> DomainError {
        DomainError(.runtimeFailed, "Project key directory: \(call) \(file): \(String(cString: strerror(errno))).")
    }
}
