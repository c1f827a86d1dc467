import Foundation

/// Reads an uploaded tar (ustar, PAX and GNU long names) held in memory, entry by entry, as
/// hostile input: every field is checked, nothing traps, and a damaged archive is a clear
/// problem. Names come out normalised (no `./`, no empty parts) and are refused when they are
/// absolute, climb with `..`, or are not UTF-8; only files, directories and symlinks pass.
public struct TarReader {
    public struct Entry: Equatable {
        public var name: String
        public var kind: TarEntry.Kind
        public var mode: Int
        public var mtime: Int64
        public var linkTarget: String
        /// Where the file's bytes are in the archive.
        public var data: Range<Int>
    }

    public static let maxEntries = 100_000
    public static let maxNameBytes = 4096

    let bytes: [UInt8]
    var offset = 0
    var count = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func problem(_ message: String) -> DomainError { DomainError.unprocessable("archive", message) }

    /// The next entry; nil at the end of the archive. Entries naming the target itself (`./`)
    /// come out with the name "".
    public mutating func next() throws -> Entry? {
        var longName: String?, longLink: String?, paxSize: Int?
        while true {
            guard offset + 512 <= bytes.count else {
                // A missing end marker is tolerated; a header cut short is not.
                if offset == bytes.count { return nil }
                throw Self.problem("ends inside a header")
            }
            let header = Array(bytes[offset..<(offset + 512)])
            if header.allSatisfy({ $0 == 0 }) { return nil }
            guard Self.checksumMatches(header) else { throw Self.problem("has a header whose checksum is wrong") }
            count += 1
            guard count <= Self.maxEntries else { throw Self.problem("has more than \(Self.maxEntries) entries") }
            let type = header[156]
            guard var size = Self.number(header[124..<136]) else { throw Self.problem("has a damaged size field") }
            if let paxSize, type != UInt8(ascii: "x"), type != UInt8(ascii: "g") { size = paxSize }
            let start = offset + 512
            let (padded, overflow) = size.addingReportingOverflow(511)
            guard !overflow, size <= bytes.count - start else { throw Self.problem("has an entry larger than the archive") }
            let data = start..<(start + size)
            offset = min(bytes.count, start + padded / 512 * 512)
            switch type {
            case UInt8(ascii: "x"):
                let records = try Self.pax(Array(bytes[data]))
                if let path = records["path"] { longName = path }
                if let link = records["linkpath"] { longLink = link }
                if let text = records["size"] {
                    guard let value = Int(text), value >= 0 else { throw Self.problem("has a damaged PAX size") }
                    paxSize = value
                }
                continue
            case UInt8(ascii: "g"):
                continue
            case UInt8(ascii: "L"), UInt8(ascii: "K"):
                guard size <= Self.maxNameBytes else { throw Self.problem("has a name over \(Self.maxNameBytes) bytes") }
                let text = try Self.text(Array(bytes[data].prefix { $0 != 0 }))
                if type == UInt8(ascii: "L") { longName = text } else { longLink = text }
                continue
            default:
                break
            }
            let kind: TarEntry.Kind
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = .file
            case UInt8(ascii: "5"): kind = .directory
            case UInt8(ascii: "2"): kind = .symlink
            case UInt8(ascii: "1"): throw Self.problem("holds a hard link; only files, directories and symlinks are unpacked")
            default: throw Self.problem("holds a device, FIFO or other special entry; only files, directories and symlinks are unpacked")
            }
            let raw = try longName ?? Self.ustarName(header)
            let link = try longLink ?? Self.text(Array(header[157..<257].prefix { $0 != 0 }))
            guard let mode = Self.number(header[100..<108]), let mtime = Self.number(header[136..<148]) else {
                throw Self.problem("has a damaged mode or time field")
            }
            return Entry(name: try Self.normalize(raw), kind: kind, mode: mode & 0o7777, mtime: Int64(mtime),
                         linkTarget: link, data: kind == .file ? data : start..<start)
        }
    }

    /// A relative path without `.` or empty parts; refused when absolute or climbing.
    static func normalize(_ name: String) throws -> String {
        guard name.utf8.count <= maxNameBytes else { throw problem("has a name over \(maxNameBytes) bytes") }
        guard !name.hasPrefix("/") else { throw problem("has an absolute name: \(name.prefix(200))") }
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !parts.contains("..") else { throw problem("has a name that climbs with ..: \(name.prefix(200))") }
        return parts.joined(separator: "/")
    }

    static func text(_ bytes: [UInt8]) throws -> String {
        guard !bytes.contains(0), let text = String(validating: bytes, as: UTF8.self) else {
            throw problem("has a name that is not UTF-8")
        }
        return text
    }

    static func ustarName(_ header: [UInt8]) throws -> String {
        let name = try text(Array(header[0..<100].prefix { $0 != 0 }))
        let isUstar = header[257..<262].elementsEqual("ustar".utf8)
        let prefix = isUstar ? try text(Array(header[345..<500].prefix { $0 != 0 })) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    /// An octal field (spaces and NULs around it), or base-256 when its first byte has the high
    /// bit set; nil when damaged, negative or too large for an Int.
    static func number(_ field: ArraySlice<UInt8>) -> Int? {
        guard let first = field.first else { return nil }
        if first & 0x80 != 0 {
            guard first & 0x40 == 0 else { return nil }
            var value = Int(first & 0x3f)
            for byte in field.dropFirst() {
                guard value <= (Int.max >> 8) else { return nil }
                value = value << 8 | Int(byte)
            }
            return value
        }
        let digits = field.drop { $0 == 0x20 || $0 == 0 }.prefix { $0 != 0x20 && $0 != 0 }
        var value = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(byte), value <= (Int.max >> 3) else { return nil }
            value = value << 3 | Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    static func checksumMatches(_ header: [UInt8]) -> Bool {
        guard let stored = number(header[148..<156]) else { return false }
        var sum = 0
        for (index, byte) in header.enumerated() { sum += (148..<156).contains(index) ? 0x20 : Int(byte) }
        return stored == sum
    }

    /// PAX records: `"<length> key=value\n"`, each length counting the whole record.
    static func pax(_ data: [UInt8]) throws -> [String: String] {
        var records: [String: String] = [:]
        var index = 0
        while index < data.count {
            guard let space = data[index...].firstIndex(of: 0x20), space - index <= 20,
                  let length = Int(String(decoding: data[index..<space], as: UTF8.self)), length > space - index,
                  length <= data.count - index else { throw problem("has a damaged PAX header") }
            let record = data[(space + 1)..<(index + length)]
            guard record.last == 0x0a, let equals = record.firstIndex(of: UInt8(ascii: "=")) else {
                throw problem("has a damaged PAX record")
            }
            let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
            let value = Array(record[(equals + 1)..<(record.endIndex - 1)])
            if ["path", "linkpath"].contains(key) {
                guard value.count <= maxNameBytes else { throw problem("has a name over \(maxNameBytes) bytes") }
                records[key] = try text(value)
            } else if key == "size" {
                records[key] = String(decoding: value.prefix(32), as: UTF8.self)
            }
            index += length
        }
        return records
    }
}
