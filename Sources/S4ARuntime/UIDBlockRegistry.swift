import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// The host uid blocks claimed by every runtime on this host, so that no two servers share host
/// uids, whichever control plane (and database) made them. One file per claimed block, named by
/// its first host uid and holding the owner ("<runtime root>\n<server id>\n"), created with
/// O_EXCL while the registry's lock (flock on `.lock`) is held, so two runtimes or two tasks
/// never take one block. A claim whose server directory is gone is stale (its runtime died
/// between removing the server and releasing the block, or lost its data directory) and may be
/// taken over.
struct UIDBlockRegistry: Sendable {
    /// Host-wide: every control plane on the host must use the same one.
    static let defaultDirectory = URL(fileURLWithPath: "/var/lib/s4a/uid-blocks")

    let directory: URL

    struct Owner: Equatable {
        var root: String
        var server: String
    }

    init(directory: URL) throws {
        self.directory = directory
        // It names every runtime directory and server on the host: root's alone.
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
    }

    /// The block of `owner`: one it already holds, else `proposed` when free, else the first free
    /// block after it (wrapping around). Throws when the host has no free block.
    func claim(proposed: Int, for owner: Owner) throws -> Int {
        let first = try Self.slot(proposed)
        return try locked {
            let claims = try self.claims()
            if let held = claims.first(where: { $0.value == owner })?.key { return held }
            for slot in Array(first..<ServerLimits.maxSlots) + Array(0..<first) {
                let base = ServerLimits.uidRangeStart + slot * ServerLimits.uidRangeSize
                if try take(base, for: owner, claims: claims) { return base }
            }
            throw RuntimeError.failed("no free host uid block is left on this host")
        }
    }

    /// Claims `base` itself, for a server whose files are already owned by it; false when
    /// another server holds it.
    func claim(exactly base: Int, for owner: Owner) throws -> Bool {
        _ = try Self.slot(base)
        return try locked {
            let claims = try self.claims()
            if claims[base] == .some(owner) { return true }
            return try take(base, for: owner, claims: claims)
        }
    }

    /// Under the lock: `base` for `owner` when it is free or its claim is stale.
    private func take(_ base: Int, for owner: Owner, claims: [Int: Owner?]) throws -> Bool {
        switch claims[base] {
        case nil: break
        case .some(nil): _ = unlink(path(base))  // unreadable: its writer died before writing it
        case .some(.some(let holder)):
            guard isStale(holder) else { return false }
            _ = unlink(path(base))
        }
        return try create(base, owner)
    }

    /// The slot of a block's first uid; nil for a uid that starts no block.
    static func slot(of base: Int) -> Int? {
        let offset = base - ServerLimits.uidRangeStart
        guard offset >= 0, offset % ServerLimits.uidRangeSize == 0, offset / ServerLimits.uidRangeSize < ServerLimits.maxSlots else {
            return nil
        }
        return offset / ServerLimits.uidRangeSize
    }

    private static func slot(_ base: Int) throws -> Int {
        guard let slot = slot(of: base) else { throw RuntimeError.failed("uid block \(base) is outside the servers' range") }
        return slot
    }

    /// Gives back every block `owner` holds.
    func release(_ owner: Owner) throws {
        try locked {
            for (base, holder) in try claims() where holder == owner { _ = unlink(path(base)) }
        }
    }

    /// Every claim file: its block and owner (nil when the file cannot be read as one).
    func claims() throws -> [Int: Owner?] {
        var result: [Int: Owner?] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            guard let base = Int(name), String(base) == name else { continue }
            result[base] = Self.owner(FileManager.default.contents(atPath: path(base)))
        }
        return result
    }

    func isStale(_ owner: Owner) -> Bool {
        let directory = RuntimeLayout(root: URL(fileURLWithPath: owner.root)).serverDirectory(owner.server)
        return !FileManager.default.fileExists(atPath: directory.path)
    }

    private func path(_ base: Int) -> String { directory.appendingPathComponent(String(base)).path }

    /// false: the file exists already (taken).
    private func create(_ base: Int, _ owner: Owner) throws -> Bool {
        let fd = open(path(base), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            if errno == EEXIST { return false }
            throw RuntimeError.failed("cannot claim uid block \(base): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array("\(owner.root)\n\(owner.server)\n".utf8)
        // Durable before the server's files are owned by it: a claim lost in a crash would let
        // another runtime hand the block out again.
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count, fsync(fd) == 0 else {
            _ = unlink(path(base))
            throw RuntimeError.failed("cannot write the claim of uid block \(base)")
        }
        return true
    }

    private static func owner(_ data: Data?) -> Owner? {
        guard let data, data.count <= 8192 else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 3, lines[2].isEmpty, lines[0].hasPrefix("/"), RuntimeLayout.isValidID(String(lines[1])) else {
            return nil
        }
        return Owner(root: String(lines[0]), server: String(lines[1]))
    }

    /// Runs `body` holding the registry's lock, across processes and within this one (each call
    /// opens its own descriptor, and flock excludes descriptors, not processes).
    private func locked<T>(_ body: () throws -> T) throws -> T {
        let fd = open(directory.appendingPathComponent(".lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RuntimeError.failed("cannot open the uid block registry's lock") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw RuntimeError.failed("cannot lock the uid block registry") }
        }
        return try body()
    }
}
