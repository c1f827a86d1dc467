import Foundation
import S4ADomain

/// A server's logs on the host, beside (never inside) its disk: one JSON Lines file per
/// supervised process, `<name>.jsonl`, rotated once to `<name>.1.jsonl` at `rotateBytes`.
/// Together they stay under the server's `quotaBytes`: the least recently written files go first.
enum ServerLogFiles {
    static let rotateBytes: UInt64 = 8 << 20
    /// What one server's logs may take on the host, all processes and runs together.
    static let quotaBytes: UInt64 = 32 << 20
    /// A writer looks at its server's total after this many bytes, and files go once the total
    /// passes `quotaBytes - quotaHeadroom`: the quota holds unless more than 32 processes
    /// (headroom / check interval) flood at once.
    static let quotaCheckBytes: UInt64 = 64 << 10
    static let quotaHeadroom: UInt64 = 2 << 20
    /// A longer line is cut into pieces of this many bytes.
    static let maxLineBytes = 16 << 10
    /// RFC 3339 UTC with milliseconds.
    static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(timeFormat))
        }
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = try? timeFormat.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad time"))
            }
            return date
        }
        return decoder
    }

    /// Lines after `cursor` in every log file of `directory`, oldest first.
    static func read(directory: String, after cursor: LogCursor?) -> (lines: [LogLine], cursor: LogCursor) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".jsonl") }
        var next = LogCursor()
        var lines: [(line: LogLine, order: Int)] = []
        let decoder = decoder()
        for name in names.sorted() {
            // A file rotated after the cursor was made holds lines already delivered.
            if cursor != nil, cursor?.offsets[name] == nil, name.hasSuffix(".1.jsonl") { continue }
            guard let handle = FileHandle(forReadingAtPath: directory + "/" + name) else { continue }
            defer { try? handle.close() }
            let size = (try? handle.seekToEnd()) ?? 0
            var start = cursor?.offsets[name] ?? 0
            if start > size { start = 0 }  // rotated: the file under this name is a new one
            try? handle.seek(toOffset: start)
            let data = (try? handle.readToEnd()) ?? Data()
            // Only whole lines: a line still being written is read next time.
            guard let end = data.lastIndex(of: UInt8(ascii: "\n")) else {
                next.offsets[name] = start
                continue
            }
            next.offsets[name] = start + UInt64(end - data.startIndex + 1)
            for piece in data[data.startIndex...end].split(separator: UInt8(ascii: "\n")) {
                if let line = try? decoder.decode(LogLine.self, from: Data(piece)) { lines.append((line, lines.count)) }
            }
        }
        lines.sort { ($0.line.time, $0.order) < ($1.line.time, $1.order) }
        return (lines.map(\.line), next)
    }
}

extension ServerLogFiles {
    /// Removes the least recently written log files of `directory` until they hold at most
    /// `quota - quotaHeadroom` bytes. A writer whose file goes starts a new one at its next line.
    static func enforceQuota(directory: String, quota: UInt64 = quotaBytes) {
        // One at a time per server (writers are separate processes), so that two never both delete.
        let lock = open(directory + "/.quota.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lock >= 0 else { return }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 { guard errno == EINTR else { return } }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".jsonl") }
        var files: [(name: String, size: UInt64, written: timespec)] = names.compactMap { name in
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0 else { return nil }
            return (name, UInt64(max(0, info.st_size)), info.st_mtim)
        }
        var total = files.reduce(0) { $0 + $1.size }
        let target = quota > quotaHeadroom ? quota - quotaHeadroom : 0
        guard total > target else { return }
        files.sort { ($0.written.tv_sec, $0.written.tv_nsec, $0.name) < ($1.written.tv_sec, $1.written.tv_nsec, $1.name) }
        for file in files where total > target {
            if unlink(directory + "/" + file.name) == 0 { total -= file.size }
        }
    }

    /// Drops the lines older than `before` from every log file of `directory` and returns how
    /// many went, per UTC day. A file is replaced whole (its writer notices and follows);
    /// what its writer appended to the old file meanwhile is carried over.
    static func prune(directory: String, before: Date) -> [String: Int64] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".jsonl") }
        var removed: [String: Int64] = [:]
        let decoder = decoder()
        for name in names {
            let path = directory + "/" + name
            guard let old = FileHandle(forReadingAtPath: path) else { continue }
            defer { try? old.close() }
            guard let data = try? old.readToEnd(), let end = data.lastIndex(of: UInt8(ascii: "\n")) else { continue }
            var kept = Data()
            var dropped: [String: Int64] = [:]
            for piece in data[data.startIndex...end].split(separator: UInt8(ascii: "\n")) {
                if let line = try? decoder.decode(LogLine.self, from: Data(piece)), line.time < before {
                    dropped[DailyUsage.dayName(line.time), default: 0] += 1
                } else {
                    kept.append(contentsOf: piece)
                    kept.append(UInt8(ascii: "\n"))
                }
            }
            guard !dropped.isEmpty else { continue }
            let temporary = path + ".prune"
            guard FileManager.default.createFile(atPath: temporary, contents: kept, attributes: [.posixPermissions: 0o600]),
                  rename(temporary, path) == 0 else {
                try? FileManager.default.removeItem(atPath: temporary)
                continue
            }
            removed.merge(dropped, uniquingKeysWith: +)
            // A write already under way when the file was replaced lands in the old one.
            usleep(20_000)
            var late = Data(data[(end + 1)...])
            if let more = try? old.readToEnd() { late.append(more) }
            if !late.isEmpty, let new = FileHandle(forWritingAtPath: path) {
                _ = try? new.seekToEnd()
                try? new.write(contentsOf: late)
                try? new.close()
            }
        }
        return removed
    }
}

/// One open writer of ingress access lines per server (a writer follows its file if the
/// janitor replaces it, and reopens it if the server's logs were removed).
final class AccessLogWriters: @unchecked Sendable {
    private let lock = NSLock()
    private var writers: [String: ServerLogWriter] = [:]

    func writer(for id: String, directory: String) -> ServerLogWriter? {
        lock.withLock {
            if let writer = writers[id] { return writer }
            guard FileManager.default.fileExists(atPath: (directory as NSString).deletingLastPathComponent),
                  let writer = try? ServerLogWriter(directory: directory, process: "ingress") else { return nil }
            writers[id] = writer
            return writer
        }
    }
}

/// Appends one process's output to its log file as timestamped lines.
final class ServerLogWriter: @unchecked Sendable {
    private let directory: String
    private let path: String
    private let process: String
    private let quota: UInt64
    private let lock = NSLock()
    private var handle: FileHandle?
    /// Written since the server's total was last looked at.
    private var unchecked: UInt64 = 0
    private var partial: [LogLine.Stream: [UInt8]] = [:]
    private let encoder = ServerLogFiles.encoder()
    private let masker: SecretMasker

    init(directory: String, process: String, masker: SecretMasker = SecretMasker([]),
         quota: UInt64 = ServerLogFiles.quotaBytes) throws {
        self.masker = masker
        self.directory = directory
        self.quota = quota
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        path = directory + "/" + process + ".jsonl"
        self.process = process
    }

    /// A piece of output: whole lines are written now, the rest when its line ends.
    func append(_ stream: LogLine.Stream, _ bytes: [UInt8]) {
        lock.withLock {
            var buffer = partial[stream, default: []] + bytes
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                writeCut(stream, buffer[..<newline])
                buffer.removeSubrange(...newline)
            }
            while buffer.count >= ServerLogFiles.maxLineBytes {
                write(stream, Array(buffer.prefix(ServerLogFiles.maxLineBytes)))
                buffer.removeFirst(ServerLogFiles.maxLineBytes)
            }
            partial[stream] = buffer
        }
    }

    /// Writes what is left of unfinished lines (the process ended).
    func flush() {
        lock.withLock {
            for (stream, rest) in partial where !rest.isEmpty { writeCut(stream, rest[...]) }
            partial = [:]
        }
    }

    /// A line of the supervisor's own: started, exited, restarting.
    func system(_ text: String) {
        lock.withLock { write(.system, Array(text.utf8)) }
    }

    /// A whole line, in pieces of at most `maxLineBytes` (a line may arrive in one read).
    private func writeCut(_ stream: LogLine.Stream, _ line: ArraySlice<UInt8>) {
        var rest = line
        repeat {
            write(stream, Array(rest.prefix(ServerLogFiles.maxLineBytes)))
            rest = rest.dropFirst(ServerLogFiles.maxLineBytes)
        } while !rest.isEmpty
    }

    private func write(_ stream: LogLine.Stream, _ bytes: [UInt8]) {
        var text = String(decoding: masker.mask(bytes: bytes), as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        guard var data = try? encoder.encode(LogLine(time: Date(), stream: stream, process: process, text: text)) else { return }
        data.append(UInt8(ascii: "\n"))
        // The retention janitor replaces a file to drop old lines: write to the new one.
        if let open = handle {
            var onDisk = stat(), held = stat()
            if stat(path, &onDisk) != 0 || fstat(open.fileDescriptor, &held) != 0 || onDisk.st_ino != held.st_ino {
                try? open.close()
                handle = nil
            }
        }
        if handle == nil {
            if !FileManager.default.fileExists(atPath: path) {
                FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            handle = FileHandle(forWritingAtPath: path)
            _ = try? handle?.seekToEnd()
        }
        guard let handle else { return }
        try? handle.write(contentsOf: data)
        if let size = try? handle.offset(), size >= ServerLogFiles.rotateBytes {
            try? handle.close()
            self.handle = nil
            let rotated = String(path.dropLast(".jsonl".count)) + ".1.jsonl"
            try? FileManager.default.removeItem(atPath: rotated)
            try? FileManager.default.moveItem(atPath: path, toPath: rotated)
        }
        unchecked += UInt64(data.count)
        if unchecked >= ServerLogFiles.quotaCheckBytes {
            unchecked = 0
            ServerLogFiles.enforceQuota(directory: directory, quota: quota)
        }
    }
}
