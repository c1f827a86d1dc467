import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The append-only file of checkpoints, one JSON line each, outside the database:
/// `<data-dir>/audit/checkpoints.jsonl`, mode 0600 in a 0700 directory, synced after each
/// append. Reading it is reading hostile input: lines are bounded, checked and their
/// signatures verified; a torn, oversized or garbled line is counted and skipped.
public struct CheckpointFile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    public static func inDataDirectory(_ dataDirectory: String) -> CheckpointFile {
        CheckpointFile(path: URL(fileURLWithPath: dataDirectory).appendingPathComponent("audit/checkpoints.jsonl").path)
    }

    /// Appends the checkpoints in one write and syncs. After a torn last line (a crash mid-write)
    /// the first new line starts on a line of its own.
    public func append(_ checkpoints: [AuditCheckpoint]) throws {
        guard !checkpoints.isEmpty else { return }
        let directory = (path as NSString).deletingLastPathComponent
        let created = !FileManager.default.fileExists(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw failure("open") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        let size = lseek(fd, 0, SEEK_END)
        if size > 0 {
            var last: UInt8 = 0
            if pread(fd, &last, 1, size - 1) == 1, last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        }
        for checkpoint in checkpoints { bytes += checkpoint.jsonLine + [UInt8(ascii: "\n")] }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw failure("write") }
            written += n
        }
        guard fsync(fd) == 0 else { throw failure("fsync") }
        if created || size == 0 { Self.syncDirectory(directory) }
    }

    /// Reads every line, keeping each account's highest head and its deletion, as signed by
    /// `keys`. A missing file reads as empty.
    public func read(keys: AuditKeys) throws -> CheckpointLog {
        var log = CheckpointLog()
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT { return log }
            throw failure("open")
        }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var line: [UInt8] = []
        var oversized = false
        var number = 0
        func finish() {
            number += 1
            if oversized { log.unreadable += 1 } else if !line.isEmpty { log.take(line, number: number, keys: keys) }
            line.removeAll(keepingCapacity: true)
            oversized = false
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw failure("read") }
            if n == 0 { break }
            for byte in buffer[0..<n] {
                if byte == UInt8(ascii: "\n") {
                    finish()
                } else if !oversized {
                    if line.count < AuditCheckpoint.maxLineBytes { line.append(byte) } else { oversized = true; line.removeAll() }
                }
            }
        }
        if oversized || !line.isEmpty { finish() }
        return log
    }

    private func failure(_ call: String) -> DomainError {
        DomainError(.runtimeFailed, "The audit checkpoint file \(path) failed (\(call): \(String(cString: strerror(errno)))).")
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// What a checkpoint file says, as far as the current key can tell.
public struct CheckpointLog: Sendable, Equatable {
    /// Each account's checkpoint with the highest seq (signed by the current key).
    public var heads: [String: AuditCheckpoint] = [:]
    /// Accounts deleted on purpose: their events are meant to be gone.
    public var deleted: Set<String> = []
    /// Lines that are not checkpoints at all: torn by a crash, garbled, oversized.
    public var unreadable = 0
    /// Checkpoints signed under another master key (from before a rotation): not checkable.
    public var otherKey = 0
    /// Line numbers of checkpoints under the current key id whose signature fails: forged.
    public var forged: [Int] = []

    public init() {}

    mutating func take(_ line: [UInt8], number: Int, keys: AuditKeys) {
        guard let checkpoint = AuditCheckpoint.parse(line) else {
            unreadable += 1
            return
        }
        guard checkpoint.keyID == keys.keyID else {
            otherKey += 1
            return
        }
        guard checkpoint.isSigned(by: keys) else {
            if forged.count < 100 { forged.append(number) }
            return
        }
        record(checkpoint)
    }

    mutating func record(_ checkpoint: AuditCheckpoint) {
        switch checkpoint.kind {
        case .deleted: deleted.insert(checkpoint.accountID)
        case .head:
            if let known = heads[checkpoint.accountID], known.seq >= checkpoint.seq { return }
            heads[checkpoint.accountID] = checkpoint
        }
    }
}
