import Foundation

/// One entry of an archive made from a server's files: only these three kinds are ever written.
public struct TarEntry: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case file, directory, symlink }
    public var name: String
    public var kind: Kind
    /// Permission bits (masked to 0o7777).
    public var mode: Int
    public var size: Int
    /// Seconds since the epoch; clamped into what a header can hold (1970…2242).
    public var mtime: Int64
    public var linkTarget: String
    public var uid: Int
    public var gid: Int

    public init(name: String, kind: Kind, mode: Int, size: Int = 0, mtime: Int64 = 0, linkTarget: String = "",
                uid: Int = 0, gid: Int = 0) {
        self.name = name
        self.kind = kind
        self.mode = mode
        self.size = size
        self.mtime = mtime
        self.linkTarget = linkTarget
        self.uid = uid
        self.gid = gid
    }
}

/// Names an archive may carry: relative, no `..` component, no NUL. Checked for every entry
/// written, whatever made the name, so no archive of ours can climb out of where it is unpacked.
public enum TarName {
    public static func isSafe(_ name: String) -> Bool {
        guard !name.isEmpty, !name.hasPrefix("/"), !name.utf8.contains(0), name.utf8.count <= 65536 else { return false }
        return !name.split(separator: "/", omittingEmptySubsequences: true).contains("..")
    }
}

/// Writes a ustar archive entry by entry to `output`, never holding more than one block of
/// its own: a file's bytes go out as they are given. Names that a plain header cannot carry
/// (over 100 bytes, not printable ASCII) and sizes over 8 GiB go in a PAX header before it.
public final class TarWriter {
    let output: ([UInt8]) async throws -> Void
    public let mtime: Date

    public init(mtime: Date, output: @escaping ([UInt8]) async throws -> Void) {
        self.mtime = mtime
        self.output = output
    }

    var defaultMtime: Int64 {
        let seconds = mtime.timeIntervalSince1970
        return seconds.isFinite ? Int64(max(0, min(Double(Self.maxOctal11), seconds))) : 0
    }

    /// A whole (small) file.
    public func file(_ name: String, _ bytes: [UInt8]) async throws {
        var given = Optional(bytes)
        try await file(name, size: bytes.count) { defer { given = nil }; return given }
    }

    /// A file of known size whose bytes come from `read` (a piece per call, nil at the end).
    public func file(_ name: String, size: Int, read: () throws -> [UInt8]?) async throws {
        try await entry(TarEntry(name: name, kind: .file, mode: 0o644, size: size, mtime: defaultMtime), read: read)
    }

    public func directory(_ name: String) async throws {
        try await entry(TarEntry(name: name, kind: .directory, mode: 0o755, mtime: defaultMtime))
    }

    /// One entry; a file's `size` bytes come from `read`, which must give exactly that many.
    public func entry(_ entry: TarEntry, read: () throws -> [UInt8]? = { nil }) async throws {
        guard TarName.isSafe(entry.name) else {
            throw DomainError(.runtimeFailed, "An archive entry's name is not a safe relative path.")
        }
        let size = entry.kind == .file ? entry.size : 0
        guard size >= 0 else { throw DomainError(.runtimeFailed, "An archive entry's size is negative.") }
        var name = entry.name
        if entry.kind == .directory, !name.hasSuffix("/") { name += "/" }
        var records: [(String, String)] = []
        if !Self.fitsPlainly(name, limit: 255) { records.append(("path", name)) }
        if entry.kind == .symlink, !Self.fitsPlainly(entry.linkTarget, limit: 100) { records.append(("linkpath", entry.linkTarget)) }
        if size > Self.maxOctal11 { records.append(("size", String(size))) }
        if !records.isEmpty {
            let pax = Self.paxRecords(records)
            try await output(Self.header(name: "PaxHeader/" + Self.fallback(name, limit: 80), size: pax.count, type: "x",
                                         mode: 0o644, mtime: 0, link: "", uid: 0, gid: 0))
            try await output(pax)
            try await pad(pax.count)
        }
        let type: Character = switch entry.kind { case .file: "0"; case .directory: "5"; case .symlink: "2" }
        try await output(Self.header(name: Self.fitsPlainly(name, limit: 255) ? name : Self.fallback(name, limit: 100),
                                     size: min(size, Self.maxOctal11), type: type, mode: entry.mode & 0o7777,
                                     mtime: Int(max(0, min(Int64(Self.maxOctal11), entry.mtime))),
                                     link: Self.fitsPlainly(entry.linkTarget, limit: 100) ? entry.linkTarget : "",
                                     uid: entry.uid, gid: entry.gid))
        guard size > 0 else { return }
        var written = 0
        while let piece = try read(), !piece.isEmpty {
            guard written + piece.count <= size else { throw DomainError(.runtimeFailed, "\(name) grew while archived.") }
            try await output(piece)
            written += piece.count
        }
        guard written == size else { throw DomainError(.runtimeFailed, "\(name) shrank while archived.") }
        try await pad(size)
    }

    /// The end-of-archive marker: two zero blocks.
    public func finish() async throws { try await output([UInt8](repeating: 0, count: 1024)) }

    func pad(_ size: Int) async throws {
        let rest = (512 - size % 512) % 512
        if rest > 0 { try await output([UInt8](repeating: 0, count: rest)) }
    }

    /// The largest value an 11-digit octal field holds (8 GiB − 1; for times, the year 2242).
    static let maxOctal11 = (1 << 33) - 1

    /// Printable ASCII that a ustar header holds as it is (name and prefix: 255 bytes, split at a slash).
    static func fitsPlainly(_ text: String, limit: Int) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= limit, bytes.allSatisfy({ (0x20...0x7e).contains($0) }) else { return false }
        return bytes.count <= 100 || split(bytes) != nil
    }

    /// What a reader that ignores PAX sees instead: printable, cut short, still a safe name.
    static func fallback(_ name: String, limit: Int) -> String {
        let printable = String(decoding: name.utf8.prefix(limit).map { (0x20...0x7e).contains($0) ? $0 : UInt8(ascii: "_") },
                               as: UTF8.self)
        let parts = printable.split(separator: "/", omittingEmptySubsequences: false).map { $0 == ".." ? "__" : String($0) }
        let joined = parts.joined(separator: "/")
        return joined.isEmpty || joined.hasPrefix("/") ? "_" + joined : joined
    }

    /// `"<length> key=value\n"` records; the length counts itself.
    static func paxRecords(_ records: [(String, String)]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n".utf8.count
            var length = body + 1
            while String(length).count + body != length { length = String(length).count + body }
            bytes += Array("\(length) \(key)=\(value)\n".utf8)
        }
        return bytes
    }

    /// Where a long name splits into ustar's prefix (≤ 155 bytes) and name (≤ 100 bytes).
    static func split(_ path: [UInt8]) -> Int? {
        path.indices.reversed().first { path[$0] == UInt8(ascii: "/") && $0 <= 155 && path.count - $0 - 1 <= 100 && $0 > 0 }
    }

    /// A ustar header. `name` is printable ASCII that fits (see `fitsPlainly`) or ≤ 100 bytes.
    static func header(name: String, size: Int, type: Character, mode: Int, mtime: Int, link: String,
                       uid: Int, gid: Int) throws -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        let path = Array(name.utf8)
        var prefix: [UInt8] = [], short = path
        if path.count > 100 {
            guard let cut = split(path) else { throw DomainError(.runtimeFailed, "An archive name is too long.") }
            prefix = Array(path[..<cut])
            short = Array(path[(cut + 1)...])
        }
        func put(_ bytes: [UInt8], at offset: Int, max width: Int) {
            for (index, byte) in bytes.prefix(width).enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(max(0, min(value, (1 << (3 * (width - 1))) - 1)), radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(short, at: 0, max: 100)
        put(octal(mode, width: 8), at: 100, max: 8)
        put(octal(uid, width: 8), at: 108, max: 8)
        put(octal(gid, width: 8), at: 116, max: 8)
        put(octal(size, width: 12), at: 124, max: 12)
        put(octal(mtime, width: 12), at: 136, max: 12)
        put(Array(String(type).utf8), at: 156, max: 1)
        put(Array(link.utf8), at: 157, max: 100)
        put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257, max: 8)
        put(Array("root".utf8), at: 265, max: 32)
        put(Array("root".utf8), at: 297, max: 32)
        put(prefix, at: 345, max: 155)
        put(Array("        ".utf8), at: 148, max: 8)
        let sum = block.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7) + [UInt8(ascii: " ")], at: 148, max: 8)
        return block
    }
}
