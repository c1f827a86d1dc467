import Foundation

/// Writes a ustar archive entry by entry to `output`, never holding more than one block of
/// its own: a file's bytes go out as they are given.
public final class TarWriter {
    let output: ([UInt8]) async throws -> Void
    public let mtime: Date

    public init(mtime: Date, output: @escaping ([UInt8]) async throws -> Void) {
        self.mtime = mtime
        self.output = output
    }

    /// A whole (small) file.
    public func file(_ name: String, _ bytes: [UInt8]) async throws {
        try await output(try Self.header(name: name, size: bytes.count, type: "0", mode: 0o644, mtime: mtime))
        if !bytes.isEmpty { try await output(bytes) }
        try await pad(bytes.count)
    }

    /// A file of known size whose bytes come from `read` (a piece per call, nil at the end).
    public func file(_ name: String, size: Int, read: () throws -> [UInt8]?) async throws {
        try await output(try Self.header(name: name, size: size, type: "0", mode: 0o644, mtime: mtime))
        var written = 0
        while let piece = try read(), !piece.isEmpty {
            guard written + piece.count <= size else { throw DomainError(.runtimeFailed, "\(name) grew while archived.") }
            try await output(piece)
            written += piece.count
        }
        guard written == size else { throw DomainError(.runtimeFailed, "\(name) shrank while archived.") }
        try await pad(size)
    }

    public func directory(_ name: String) async throws {
        try await output(try Self.header(name: name.hasSuffix("/") ? name : name + "/", size: 0, type: "5", mode: 0o755, mtime: mtime))
    }

    /// Entries made elsewhere (a server's own tar), already whole blocks.
    public func raw(_ bytes: [UInt8]) async throws { if !bytes.isEmpty { try await output(bytes) } }

    /// The end-of-archive marker: two zero blocks.
    public func finish() async throws { try await output([UInt8](repeating: 0, count: 1024)) }

    func pad(_ size: Int) async throws {
        let rest = (512 - size % 512) % 512
        if rest > 0 { try await output([UInt8](repeating: 0, count: rest)) }
    }

    /// A ustar header; names over 100 bytes are split at a slash into prefix and name.
    static func header(name: String, size: Int, type: Character, mode: Int, mtime: Date) throws -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        let path = Array(name.utf8)
        var prefix: [UInt8] = [], short = path
        if path.count > 100 {
            guard let cut = path.indices.reversed().first(where: { path[$0] == UInt8(ascii: "/") && $0 <= 155 && path.count - $0 - 1 <= 100 }) else {
                throw DomainError(.runtimeFailed, "An archive name is too long: \(name)")
            }
            prefix = Array(path[..<cut])
            short = Array(path[(cut + 1)...])
        }
        func put(_ bytes: [UInt8], at offset: Int) { for (index, byte) in bytes.enumerated() { block[offset + index] = byte } }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(short, at: 0)
        put(octal(mode, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(max(0, Int(mtime.timeIntervalSince1970)), width: 12), at: 136)
        put(Array(String(type).utf8), at: 156)
        put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257)
        put(Array("root".utf8), at: 265)
        put(Array("root".utf8), at: 297)
        put(prefix, at: 345)
        put(Array("        ".utf8), at: 148)
        let sum = block.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7) + [UInt8(ascii: " ")], at: 148)
        return block
    }
}

/// Passes a tar stream's entries through, piece by piece, and drops its end-of-archive marker
/// (and anything after it), so that another archive's entries can be spliced into one being
/// written. It reads only headers: each entry's data is forwarded as it comes.
public struct TarEntryStream {
    private var header: [UInt8] = []
    /// Bytes of the current entry's data (padded to whole blocks) still to forward.
    private var remaining = 0
    public private(set) var ended = false

    public init() {}

    /// Bytes the current entry still lacks (its stream was cut short).
    public var unfinished: Int { remaining }

    /// What of `bytes` belongs to entries.
    public mutating func feed(_ bytes: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count, !ended {
            if remaining > 0 {
                let take = min(remaining, bytes.count - index)
                output += bytes[index..<(index + take)]
                remaining -= take
                index += take
                continue
            }
            let take = min(512 - header.count, bytes.count - index)
            header += bytes[index..<(index + take)]
            index += take
            guard header.count == 512 else { break }
            if header.allSatisfy({ $0 == 0 }) {
                ended = true
                break
            }
            let size = try Self.size(of: header)
            output += header
            header = []
            remaining = (size + 511) / 512 * 512
        }
        return output
    }

    /// The size field: octal text, or base-256 when its first byte has the high bit set.
    static func size(of header: [UInt8]) throws -> Int {
        let field = header[124..<136]
        if field.first! & 0x80 != 0 {
            return field.dropFirst().reduce(0) { ($0 << 8) | Int($1) }
        }
        let text = String(decoding: field, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
        guard let size = Int(text.isEmpty ? "0" : text, radix: 8) else {
            throw DomainError(.runtimeFailed, "A server's archive has a damaged header.")
        }
        return size
    }
}
