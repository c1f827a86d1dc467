import CS4ASys
import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// A file descriptor, closed when the last reference goes.
final class Descriptor: @unchecked Sendable {
    let fd: Int32
    init(_ fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    func stat() throws -> stat {
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0 else { throw ServerRoot.failure(errno) }
        return info
    }
}

/// A running server's root directory, opened from the host through `/proc/<init>/root` (the
/// init process checked against its start time, so a reused pid cannot redirect us), with
/// every path resolved by `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`: `..` stops at the
/// server's `/`, absolute symlinks start there, and /proc's magic links lead nowhere. Nothing
/// of the server's runs. Access follows what the server's root may do: it owns what is owned by
/// its mapped uids and otherwise has the permissions "others" have; what is created here is
/// given to it.
final class ServerRoot: @unchecked Sendable {
    let root: Descriptor
    let uidBase: UInt32
    let uidCount: UInt32
    /// The root's device and inode: tells an archive of `/` from one of a subdirectory.
    let rootIdentity: (dev_t, ino_t)

    init(runcRoot: String, server: ContainerSpec) throws {
        guard let state = RuncStateFile(runcRoot: runcRoot, id: server.id), let start = state.initStart,
              server.hostUIDBase >= 0, server.uidCount > 0, let base = UInt32(exactly: server.hostUIDBase),
              let count = UInt32(exactly: server.uidCount) else {
            throw DomainError(.serverNotRunning, "The server is not running.")
        }
        // /proc/<pid> as a directory stays bound to that very process: if it ended, reads fail.
        let process = Glibc.open("/proc/\(state.initPID)", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard process >= 0 else { throw DomainError(.serverNotRunning, "The server is not running.") }
        let processFD = Descriptor(process)
        let statFD = openat(process, "stat", O_RDONLY | O_CLOEXEC)
        var text = [UInt8](repeating: 0, count: 4096)
        let capacity = text.count
        let length = statFD >= 0 ? Glibc.read(statFD, &text, capacity) : -1
        if statFD >= 0 { close(statFD) }
        guard length > 0, ContainerState.startTime(ofStat: String(decoding: text.prefix(length), as: UTF8.self)) == start else {
            throw DomainError(.serverNotRunning, "The server is not running.")
        }
        let rootFD = openat(processFD.fd, "root", S4A_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard rootFD >= 0 else { throw DomainError(.serverNotRunning, "The server's files cannot be reached.") }
        root = Descriptor(rootFD)
        uidBase = base
        uidCount = count
        let info = try root.stat()
        rootIdentity = (info.st_dev, info.st_ino)
    }

    // MARK: Resolving

    static let inRoot = UInt64(RESOLVE_IN_ROOT) | UInt64(RESOLVE_NO_MAGICLINKS)
    /// For unpacking: under the target directory, through no symlink at all.
    static let beneath = UInt64(RESOLVE_BENEATH) | UInt64(RESOLVE_NO_SYMLINKS) | UInt64(RESOLVE_NO_MAGICLINKS)

    /// `path` resolved inside the server's root (or beneath `directory`, with `beneath`).
    func open(_ path: String, _ flags: Int32, mode: mode_t = 0, in directory: Descriptor? = nil,
              resolve: UInt64 = ServerRoot.inRoot) throws -> Descriptor {
        for _ in 0..<16 {
            let fd = s4a_openat2((directory ?? root).fd, path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), UInt64(mode), resolve)
            if fd >= 0 { return Descriptor(fd) }
            // EAGAIN: a rename elsewhere raced the resolution; the kernel asks for a retry.
            guard errno == EAGAIN || errno == EINTR else { throw Self.failure(errno) }
        }
        throw Self.failure(EAGAIN)
    }

    /// The file an `S4A_O_PATH` descriptor names, opened for real (its path is not resolved again).
    func reopen(_ handle: Descriptor, _ flags: Int32) throws -> Descriptor {
        let fd = Glibc.open("/proc/self/fd/\(handle.fd)", flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)
        guard fd >= 0 else { throw Self.failure(errno) }
        return Descriptor(fd)
    }

    /// The entry `name` of `directory`, not followed if it is a link; nil if it is gone.
    func statAt(_ directory: Descriptor, _ name: [UInt8]) throws -> stat? {
        var info = stat()
        if withCName(name, { fstatat(directory.fd, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0 { return info }
        if errno == ENOENT { return nil }
        throw Self.failure(errno)
    }

    /// `/a/b/c` → (`/a/b`, `c`); the last part must name something (not `.`, `..` or nothing).
    static func split(_ path: String) throws -> (parent: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
        let name = String(trimmed[trimmed.index(after: slash)...])
        guard !name.isEmpty, name != ".", name != ".." else { throw DomainError.unprocessable("path", "must name a file") }
        let parent = String(trimmed[..<slash])
        return (parent.isEmpty ? "/" : parent, name)
    }

    /// Opens (`create`: makes, as `mkdir -p` does, owned by the server's root) a directory.
    func directory(_ path: String, create: Bool) throws -> Descriptor {
        do {
            return try makeDirectory(path, create: create)
        } catch let error as DomainError where create && error.detail == Self.notADirectory {
            throw DomainError.unprocessable("path", "has a parent that is not a directory")
        }
    }

    private func makeDirectory(_ path: String, create: Bool) throws -> Descriptor {
        do {
            return try open(path, S4A_O_PATH | O_DIRECTORY)
        } catch let error as DomainError where create && error.kind == .notFound && error.detail != Self.notADirectory {
            let (parent, name) = try Self.split(path)
            let above = try makeDirectory(parent, create: true)
            try checkWritable(above)
            if mkdirat(above.fd, name, 0o755) == 0 {
                fchownat(above.fd, name, uidBase, uidBase, AT_SYMLINK_NOFOLLOW)
            } else if errno != EEXIST {
                throw Self.failure(errno)
            }
            return try open(path, S4A_O_PATH | O_DIRECTORY)
        }
    }

    // MARK: What the server's root may do

    func mapped(_ id: UInt32) -> Bool { id >= uidBase && id - uidBase < uidCount }

    /// Root inside the server overrides permissions only on what both its mapped ids own.
    func privileged(_ info: stat) -> Bool { mapped(info.st_uid) && mapped(info.st_gid) }

    func mayRead(_ info: stat) -> Bool { privileged(info) || info.st_mode & 0o004 != 0 }

    func checkWritable(_ directory: Descriptor) throws {
        let info = try directory.stat()
        guard privileged(info) || info.st_mode & 0o002 != 0 else {
            throw DomainError.unprocessable("path", "is not writable by the server's root")
        }
        try checkOrdinary(directory)
    }

    /// The kernel's own filesystems are not files of the server's: never read or written here
    /// (host root would see there what the server's root may not).
    static let kernelFilesystems: Set<Int> = [
        0x9fa0 /* proc */, 0x6265_6572 /* sysfs */, 0x1cd1 /* devpts */, 0x1980_0202 /* mqueue */,
        0x0027_e0eb /* cgroup */, 0x6367_7270 /* cgroup2 */, 0x6462_6720 /* debugfs */, 0x7472_6163 /* tracefs */,
        0x7363_6673 /* securityfs */, 0xcafe_4a11 /* bpf */, 0x4249_4e4d /* binfmt_misc */, 0x6e73_6673 /* nsfs */,
        0x6165_676c /* pstore */, 0x6265_6570 /* configfs */, 0x6573_5543 /* fusectl */,
    ]

    func isKernelFilesystem(_ handle: Descriptor) -> Bool {
        let type = s4a_filesystem_type(handle.fd)
        return type < 0 || Self.kernelFilesystems.contains(type)
    }

    func checkOrdinary(_ handle: Descriptor) throws {
        if isKernelFilesystem(handle) {
            throw DomainError.unprocessable("path", "is on a kernel filesystem (/proc, /sys, /dev/pts), which file operations leave alone")
        }
    }

    /// The id inside the server of a host uid (nobody for one it does not map).
    func inner(_ id: UInt32) -> Int { mapped(id) ? Int(id - uidBase) : 65534 }

    // MARK: Errors

    static let notADirectory = "A part of the path is not a directory."

    static func failure(_ code: Int32) -> DomainError {
        switch code {
        // As before: what cannot be reached (loops, magic links, climbing out) does not exist.
        case ENOENT, ELOOP, EXDEV: return DomainError(.notFound, "No such file or directory.")
        case ENOTDIR: return DomainError(.notFound, notADirectory)
        case EROFS: return DomainError.unprocessable("path", "is on a read-only filesystem")
        case EACCES, EPERM: return DomainError.unprocessable("path", "is not permitted to the server's root")
        case ENOSPC, EDQUOT: return DomainError.unprocessable("path", "cannot be written: the server's disk is full")
        case EISDIR: return DomainError.unprocessable("path", "is a directory")
        case ENAMETOOLONG: return DomainError.unprocessable("path", "is too long")
        case EBUSY: return DomainError.unprocessable("path", "is or holds a mount point")
        case ENOTEMPTY: return DomainError.unprocessable("path", "is not empty")
        case EMFILE, ENFILE, ENOMEM: return DomainError(.runtimeFailed, "The host is out of file handles; try again.")
        default: return DomainError.unprocessable("path", "could not be used (\(String(cString: strerror(code))))")
        }
    }

    /// Names in a directory (without `.` and `..`), as bytes: any byte but `/` and NUL may be in one.
    func names(_ directory: Descriptor, limit: Int) throws -> [[UInt8]] {
        let copy = openat(directory.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard copy >= 0 else { throw Self.failure(errno) }
        guard let stream = fdopendir(copy) else {
            close(copy)
            throw Self.failure(errno)
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19
        while let entry = readdir(stream) {
            let pointer = UnsafeRawPointer(entry).advanced(by: offset).assumingMemoryBound(to: UInt8.self)
            let name = Array(UnsafeBufferPointer(start: pointer, count: strlen(UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))))
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            guard names.count < limit else { throw DomainError(.payloadTooLarge, "The directory holds more than \(limit) entries.") }
            names.append(name)
        }
        return names
    }
}

/// `bytes` as a C string for a system call (a name read from a directory need not be UTF-8).
func withCName<T>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> T) -> T {
    (bytes + [0]).withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
    }
}

extension ContainerState {
    /// A process's start time (field 22 of /proc/<pid>/stat), after the command's name, which
    /// may hold spaces and parentheses.
    static func startTime(ofStat stat: String) -> UInt64? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}
