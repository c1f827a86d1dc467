import CS4ASys
import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

extension ServerRoot {
    static let maxListing = 100_000
    /// Deep enough for any real tree; bounds the descriptors a removal or an archive holds.
    static let maxDepth = 256

    func list(_ path: String) throws -> [FileEntry] {
        let directory = try openDirectory(path)
        return try names(directory, limit: Self.maxListing).compactMap { name in
            guard let info = try? statAt(directory, name) else { return nil }
            return FileEntry(name: name, mode: info.st_mode, size: Int64(info.st_size),
                             mtimeSeconds: Int64(info.st_mtim.tv_sec), mtimeNanoseconds: Int64(info.st_mtim.tv_nsec))
        }
    }

    /// A readable directory of the server's own filesystems, open for reading its entries.
    func openDirectory(_ path: String) throws -> Descriptor {
        let directory: Descriptor
        do {
            directory = try open(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK)
        } catch let error as DomainError where error.detail == Self.notADirectory {
            // The path itself is something else (it exists) or a parent is not a directory.
            if (try? open(path, S4A_O_PATH)) != nil { throw DomainError.unprocessable("dir", "is not a directory") }
            throw DomainError(.notFound, "No such file or directory.")
        }
        try checkOrdinary(directory)
        guard mayRead(try directory.stat()) else { throw DomainError.unprocessable("dir", "is not readable by the server's root") }
        return directory
    }

    func openFile(_ path: String) throws -> FileReader {
        let handle = try open(path, S4A_O_PATH)
        let info = try handle.stat()
        try checkRegular(info)
        try checkOrdinary(handle)
        guard mayRead(info) else { throw DomainError.unprocessable("path", "is not readable by the server's root") }
        let file = try reopen(handle, O_RDONLY)
        let opened = try file.stat()
        guard opened.st_ino == info.st_ino, opened.st_dev == info.st_dev else { throw DomainError(.notFound, "No such file or directory.") }
        return FileReader(file, size: Int(max(0, opened.st_size)))
    }

    func checkRegular(_ info: stat) throws {
        switch info.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw DomainError.unprocessable("path", "is a directory")
        default: throw DomainError.unprocessable("path", "is not a regular file")
        }
    }

    func write(_ path: String, bytes: [UInt8]) throws {
        let (parent, name) = try Self.split(path)
        let directory = try self.directory(parent, create: true)
        let file: Descriptor
        do {
            let handle = try open(path, S4A_O_PATH)
            let info = try handle.stat()
            try checkRegular(info)
            try checkOrdinary(handle)
            guard privileged(info) || info.st_mode & 0o002 != 0 else {
                throw DomainError.unprocessable("path", "is not writable by the server's root")
            }
            file = try reopen(handle, O_WRONLY | O_TRUNC)
        } catch let error as DomainError where error.kind == .notFound {
            try checkWritable(directory)
            let fd = openat(directory.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0o644)
            guard fd >= 0 else {
                // A link to nothing (or to something made meanwhile): not followed out of the blue.
                if errno == EEXIST { throw DomainError.unprocessable("path", "is a link to nothing") }
                throw Self.failure(errno)
            }
            file = Descriptor(fd)
            fchown(fd, uidBase, uidBase)
        }
        try Self.writeAll(file, bytes[...])
    }

    static func writeAll(_ file: Descriptor, _ bytes: ArraySlice<UInt8>) throws {
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(file.fd, $0.baseAddress, min($0.count, 1 << 20)) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw failure(errno)
            }
            offset += count
        }
    }

    /// Removes a file, a link (not what it names) or a directory tree; mount points inside are
    /// not crossed (the removal then fails on them).
    func remove(_ path: String) throws {
        let (parent, name) = try Self.split(path)
        let directory = try open(parent, S4A_O_PATH | O_DIRECTORY)
        let bytes = Array(name.utf8)
        guard let info = try statAt(directory, bytes) else { throw DomainError(.notFound, "No such file or directory.") }
        try checkWritable(directory)
        if info.st_mode & S_IFMT == S_IFDIR {
            try removeTree(directory, bytes, device: info.st_dev, mount: nil, depth: 0)
        } else {
            try unlink(directory, bytes, directory: false)
        }
    }

    func removeTree(_ parent: Descriptor, _ name: [UInt8], device: dev_t, mount: Int64?, depth: Int) throws {
        guard depth < Self.maxDepth else { throw DomainError.unprocessable("path", "is nested too deeply to remove") }
        let fd = withCName(name) { openat(parent.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) }
        guard fd >= 0 else {
            // Swapped for a link or a file meanwhile: that is removed instead.
            if errno == ELOOP || errno == ENOTDIR { return try unlink(parent, name, directory: false) }
            throw Self.failure(errno)
        }
        let directory = Descriptor(fd)
        let info = try directory.stat()
        // Not into another mount (by mount id; by device where the kernel has none).
        let here = s4a_mount_id(directory.fd)
        if here >= 0 ? here == (mount ?? here) : info.st_dev == device {
            try checkWritable(directory)
            for child in try names(directory, limit: .max) {
                guard let childInfo = try statAt(directory, child) else { continue }
                if childInfo.st_mode & S_IFMT == S_IFDIR {
                    try removeTree(directory, child, device: device, mount: here, depth: depth + 1)
                } else {
                    try unlink(directory, child, directory: false)
                }
            }
        }
        try unlink(parent, name, directory: true)
    }

    func unlink(_ directory: Descriptor, _ name: [UInt8], directory isDirectory: Bool) throws {
        guard withCName(name, { unlinkat(directory.fd, $0, isDirectory ? AT_REMOVEDIR : 0) }) == 0 || errno == ENOENT else {
            throw Self.failure(errno)
        }
    }
}

/// A regular file of a server, open for reading: exactly `size` bytes come out (zeros make up
/// for a file that shrank meanwhile; what it grew by is left out).
final class FileReader: ServerFileReader, @unchecked Sendable {
    private let file: Descriptor
    let size: Int
    private var offset = 0
    private let lock = NSLock()

    init(_ file: Descriptor, size: Int) {
        self.file = file
        self.size = size
    }

    func read(_ maximum: Int) throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        let want = min(max(0, maximum), size - offset)
        guard want > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: want)
        var filled = 0
        while filled < want {
            let count = buffer.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress! + filled, want - filled, off_t(offset + filled)) }
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            guard count >= 0 else { throw ServerRoot.failure(errno) }
            if count == 0 { break }
            filled += count
        }
        offset += want
        return buffer
    }
}
