import Foundation

/// One entry of a directory listing.
public struct FileEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case file, directory, symlink, other }
    public var name: String
    public var kind: Kind
    public var size: Int
    public var mode: String
    public var modifiedAt: Date

    public init(name: String, kind: Kind, size: Int, mode: String, modifiedAt: Date) {
        self.name = name
        self.kind = kind
        self.size = size
        self.mode = mode
        self.modifiedAt = modifiedAt
    }

    /// An entry from what `stat` said of a server's file, which the server controls: any
    /// value, however extreme, gives an entry (times clamped to years 1…9999, the range an
    /// RFC 3339 timestamp can write; sizes to 0…Int.max; the name decoded lossily).
    public init(name: [UInt8], mode: UInt32, size: Int64, mtimeSeconds: Int64, mtimeNanoseconds: Int64) {
        let kind: Kind = switch mode & 0o170000 {
        case 0o100000: .file
        case 0o040000: .directory
        case 0o120000: .symlink
        default: .other
        }
        self.init(name: String(decoding: name, as: UTF8.self), kind: kind, size: Int(max(0, size)),
                  mode: String(mode & 0o7777, radix: 8),
                  modifiedAt: Self.date(seconds: mtimeSeconds, nanoseconds: mtimeNanoseconds))
    }

    /// 0001-01-01T00:00:00Z … 9999-12-31T23:59:59Z as Foundation writes them (its calendar is
    /// Julian before 1582, so year 1 starts two days before the proleptic Gregorian one).
    public static let dateRange: ClosedRange<Int64> = -62_135_769_600...253_402_300_799

    public static func date(seconds: Int64, nanoseconds: Int64) -> Date {
        let whole = min(max(seconds, dateRange.lowerBound), dateRange.upperBound)
        let fraction = whole == seconds ? Double(min(max(nanoseconds, 0), 999_999_999)) / 1e9 : 0
        return Date(timeIntervalSince1970: Double(whole) + fraction)
    }
}

/// What an archive of a server's directory left out.
public struct ArchiveSummary: Sendable, Equatable {
    public var entries = 0
    /// Names that are not UTF-8, files the server's root could not read, sockets, devices, FIFOs.
    public var skipped = 0
    public init() {}
}

/// A tree of a server's files being written into a tar (see `ServerFilesystem.archive`).
public protocol ServerTreeArchive: Sendable {
    func write(to tar: TarWriter) async throws -> ArchiveSummary
}

/// A regular file of a server opened for reading: `size` bytes (as it was when opened) come out
/// of `read`, however the file changes meanwhile.
public protocol ServerFileReader: AnyObject, Sendable {
    var size: Int { get }
    /// At most `maximum` bytes; empty at the end.
    func read(_ maximum: Int) throws -> [UInt8]
}

/// A running server's files, reached from the host without running any program of the
/// server's (which it could replace): every path resolves inside the server's own root, as the
/// server's root user would see it, so `..`, absolute symlinks and links swapped in mid-request
/// only ever name the server's own files. What it creates belongs to the server's root.
/// Paths are absolute within the server. The kernel's special filesystems (/proc, /sys, /dev)
/// are never read or written; archives leave them out and stay on the directory's own filesystem.
public protocol ServerFilesystem: Sendable {
    func listDirectory(_ server: ContainerSpec, _ path: String) async throws -> [FileEntry]
    func openFile(_ server: ContainerSpec, _ path: String) async throws -> any ServerFileReader
    /// Replaces (or creates, with its missing parent directories) a regular file.
    func writeFile(_ server: ContainerSpec, _ path: String, bytes: [UInt8]) async throws
    /// Removes a file, a link or a whole directory tree.
    func remove(_ server: ContainerSpec, _ path: String) async throws
    /// Checks that `directory` can be archived; the archive's names start with `prefix`.
    func archive(_ server: ContainerSpec, directory: String, prefix: String) async throws -> any ServerTreeArchive
    /// Unpacks a tar (checked entry by entry, see `TarReader`) into `directory`, made if missing.
    func unpack(_ server: ContainerSpec, directory: String, archive: [UInt8]) async throws
}
