import CS4ASys
import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// A directory of a server written into a tar from the host, entry by entry as the writer takes
/// them: files, directories and symlinks only, names checked (UTF-8, under `prefix`), on the
/// directory's own mount (mount points appear empty), /proc, /sys and /dev of the root left
/// out, and unreadable entries skipped. Stops when the task is cancelled (the client left).
final class TreeArchive: ServerTreeArchive, @unchecked Sendable {
    let root: ServerRoot
    let directory: Descriptor
    let prefix: String
    let device: dev_t
    let mount: Int64
    let isRoot: Bool

    init(root: ServerRoot, path: String, prefix: String) throws {
        self.root = root
        directory = try root.openDirectory(path)
        let info = try directory.stat()
        device = info.st_dev
        mount = s4a_mount_id(directory.fd)
        isRoot = info.st_dev == root.rootIdentity.0 && info.st_ino == root.rootIdentity.1
        self.prefix = prefix
    }

    /// On the archived directory's mount (by mount id: on overlayfs a file's st_dev is its
    /// layer's, not the mount's; by device where the kernel has no mount ids).
    func onThisMount(_ handle: Descriptor, _ info: stat) -> Bool {
        mount >= 0 ? s4a_mount_id(handle.fd) == mount : info.st_dev == device
    }

    static let kernelDirectories: Set<[UInt8]> = [Array("proc".utf8), Array("sys".utf8), Array("dev".utf8)]

    func write(to tar: TarWriter) async throws -> ArchiveSummary {
        var summary = ArchiveSummary()
        if !prefix.isEmpty {
            try await tar.directory(prefix)
            summary.entries += 1
        }
        try await walk(directory, relative: "", depth: 0, tar, &summary)
        return summary
    }

    private func walk(_ directory: Descriptor, relative: String, depth: Int, _ tar: TarWriter,
                      _ summary: inout ArchiveSummary) async throws {
        for name in try root.names(directory, limit: .max).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            try Task.checkCancellation()
            if depth == 0, isRoot, Self.kernelDirectories.contains(name) { continue }
            guard let info = try? root.statAt(directory, name) else { continue }
            guard let text = String(validating: name, as: UTF8.self), relative.utf8.count + name.count < 4000 else {
                summary.skipped += 1
                continue
            }
            let path = relative + text
            var entry = TarEntry(name: prefix + path, kind: .file, mode: Int(info.st_mode & 0o7777),
                                 mtime: Int64(info.st_mtim.tv_sec), uid: root.inner(info.st_uid), gid: root.inner(info.st_gid))
            guard entry.name.hasPrefix(prefix), TarName.isSafe(entry.name) else {
                summary.skipped += 1
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                let fd = withCName(name) { openat(directory.fd, $0, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) }
                guard fd >= 0 else {
                    summary.skipped += 1
                    continue
                }
                let child = Descriptor(fd)
                guard let childInfo = try? child.stat(), !root.isKernelFilesystem(child) else { continue }
                entry.kind = .directory
                try await tar.entry(entry)
                summary.entries += 1
                // Another filesystem (a mount point) or one it may not read: the directory alone.
                guard onThisMount(child, childInfo), root.mayRead(childInfo) else { continue }
                guard depth + 1 < ServerRoot.maxDepth else {
                    summary.skipped += 1
                    continue
                }
                try await walk(child, relative: path + "/", depth: depth + 1, tar, &summary)
            case S_IFREG:
                let fd = withCName(name) { openat(directory.fd, $0, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
                guard root.mayRead(info), fd >= 0 else {
                    if fd >= 0 { close(fd) }
                    summary.skipped += 1
                    continue
                }
                let file = Descriptor(fd)
                // Swapped for something else since it was looked at: that is not read.
                guard let opened = try? file.stat(), opened.st_mode & S_IFMT == S_IFREG else {
                    summary.skipped += 1
                    continue
                }
                // A file mounted over this one (the init binary): not the server's own.
                guard onThisMount(file, opened) else { continue }
                let reader = FileReader(file, size: Int(max(0, opened.st_size)))
                entry.size = reader.size
                try await tar.entry(entry) {
                    let piece = try reader.read(1 << 16)
                    return piece.isEmpty ? nil : piece
                }
                summary.entries += 1
            case S_IFLNK:
                let capacity = 4096
                var target = [UInt8](repeating: 0, count: capacity)
                let length = withCName(name) { readlinkat(directory.fd, $0, &target, capacity) }
                guard length >= 0, length < capacity,
                      let link = String(validating: target.prefix(length), as: UTF8.self), !link.utf8.contains(0) else {
                    summary.skipped += 1
                    continue
                }
                entry.kind = .symlink
                entry.linkTarget = link
                try await tar.entry(entry)
                summary.entries += 1
            default:
                summary.skipped += 1
            }
        }
    }
}

extension ServerRoot {
    /// Unpacks `archive` into `path` (made if missing). Every entry is checked before anything
    /// is written (see `TarReader`; an entry inside a symlink the archive itself makes is refused),
    /// then written beneath the target through no symlink at all, owned by the server's root.
    func unpack(_ path: String, archive: [UInt8]) throws {
        var reader = TarReader(archive)
        var entries: [TarReader.Entry] = []
        var links = Set<String>()
        while let entry = try reader.next() {
            guard !entry.name.isEmpty else { continue }
            var ancestor = ""
            for part in entry.name.split(separator: "/").dropLast() {
                ancestor += (ancestor.isEmpty ? "" : "/") + part
                if links.contains(ancestor) {
                    throw DomainError.unprocessable("archive", "has an entry inside a symlink it makes: \(entry.name.prefix(200))")
                }
            }
            if entry.kind == .symlink { links.insert(entry.name) }
            entries.append(entry)
        }
        let target = try directory(path, create: true)
        try checkWritable(target)
        for entry in entries {
            try Task.checkCancellation()
            let (parentPath, name) = entry.name.lastIndex(of: "/").map {
                (String(entry.name[..<$0]), String(entry.name[entry.name.index(after: $0)...]))
            } ?? ("", entry.name)
            let parent = try beneath(target, parentPath)
            try checkWritable(parent)
            let bytes = Array(name.utf8)
            let existing = try statAt(parent, bytes)
            switch entry.kind {
            case .directory:
                if let existing {
                    guard existing.st_mode & S_IFMT == S_IFDIR else {
                        throw DomainError.unprocessable("archive", "has a directory where a file is: \(entry.name.prefix(200))")
                    }
                    continue
                }
                guard mkdirat(parent.fd, name, mode_t(entry.mode & 0o777) | 0o700) == 0 else { throw Self.failure(errno) }
                fchownat(parent.fd, name, uidBase, uidBase, AT_SYMLINK_NOFOLLOW)
            case .file, .symlink:
                if let existing {
                    guard existing.st_mode & S_IFMT != S_IFDIR else {
                        throw DomainError.unprocessable("archive", "has a file where a directory is: \(entry.name.prefix(200))")
                    }
                    try unlink(parent, bytes, directory: false)
                }
                if entry.kind == .symlink {
                    guard symlinkat(entry.linkTarget, parent.fd, name) == 0 else { throw Self.failure(errno) }
                    fchownat(parent.fd, name, uidBase, uidBase, AT_SYMLINK_NOFOLLOW)
                    continue
                }
                let fd = openat(parent.fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                                mode_t(entry.mode & 0o777))
                guard fd >= 0 else { throw Self.failure(errno) }
                let file = Descriptor(fd)
                fchown(fd, uidBase, uidBase)
                try Self.writeAll(file, archive[entry.data])
                let time = timespec(tv_sec: Int(clamping: entry.mtime), tv_nsec: 0)
                _ = [time, time].withUnsafeBufferPointer { futimens(fd, $0.baseAddress) }
            }
        }
    }

    /// A directory beneath `target`, made part by part if missing; a symlink or a climb on the way
    /// is refused (even one the server made), so nothing lands outside the target.
    func beneath(_ target: Descriptor, _ relative: String) throws -> Descriptor {
        var current = target
        for part in relative.split(separator: "/") {
            let name = String(part)
            do {
                current = try open(name, S4A_O_PATH | O_DIRECTORY, in: current, resolve: Self.beneath)
            } catch let error as DomainError where error.kind == .notFound && error.detail != Self.notADirectory {
                try checkWritable(current)
                if mkdirat(current.fd, name, 0o755) == 0 {
                    fchownat(current.fd, name, uidBase, uidBase, AT_SYMLINK_NOFOLLOW)
                } else if errno != EEXIST {
                    throw Self.failure(errno)
                }
                do {
                    current = try open(name, S4A_O_PATH | O_DIRECTORY, in: current, resolve: Self.beneath)
                } catch {
                    throw DomainError.unprocessable("archive", "has an entry under something that is not a directory: \(relative.prefix(200))")
                }
            } catch {
                throw DomainError.unprocessable("archive", "has an entry under a symlink or non-directory: \(relative.prefix(200))")
            }
        }
        return current
    }
}
