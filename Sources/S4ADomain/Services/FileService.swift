import Foundation

public struct FileEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case file, directory, symlink, other }
    public var name: String
    public var kind: Kind
    public var size: Int
    public var mode: String
    public var modifiedAt: Date
}

/// Files of a running server. Every operation runs *inside* the server, as its root, through
/// the runtime's exec: paths resolve in the server's own mount namespace, so `..`, absolute
/// symlinks, links to other servers or the host, and links swapped in mid-request can only
/// ever name the server's own files.
public struct FileService: Sendable {
    let servers: ServerService
    public static let maxBytes = 64 << 20

    public init(servers: ServerService) { self.servers = servers }

    public func write(_ principal: Principal, serverID: String, path: String, bytes: [UInt8]) async throws {
        try principal.check(.scope(.serversWrite))
        let path = try Self.normalize(path)
        guard path != "/" else { throw DomainError.unprocessable("path", "must name a file") }
        let script = #"[ ! -d "$1" ] || exit 45; mkdir -p -- "$(dirname -- "$1")" && cat > "$1""#
        _ = try await run(principal, serverID, script, [path], stdin: bytes)
    }

    public func read(_ principal: Principal, serverID: String, path: String) async throws -> [UInt8] {
        try principal.check(.scope(.serversRead))
        let path = try Self.normalize(path)
        let script = #"[ -e "$1" ] || exit 44; [ ! -d "$1" ] || exit 45; exec cat -- "$1""#
        return try await run(principal, serverID, script, [path])
    }

    public func delete(_ principal: Principal, serverID: String, path: String) async throws {
        try principal.check(.scope(.serversWrite))
        let path = try Self.normalize(path)
        guard path != "/" else { throw DomainError.unprocessable("path", "cannot be the root directory") }
        _ = try await run(principal, serverID, #"[ -e "$1" ] || [ -L "$1" ] || exit 44; rm -rf -- "$1""#, [path])
    }

    public func list(_ principal: Principal, serverID: String, directory: String) async throws -> (String, [FileEntry]) {
        try principal.check(.scope(.serversRead))
        let directory = try Self.normalize(directory)
        // NUL-terminated records: any byte but NUL may be in a name.
        let script = #"[ -e "$1" ] || exit 44; [ -d "$1" ] || exit 46; exec find "$1" -mindepth 1 -maxdepth 1 -printf '%y\t%s\t%m\t%T@\t%f\0'"#
        let output = try await run(principal, serverID, script, [directory])
        var entries: [FileEntry] = []
        for record in output.split(separator: 0) {
            let fields = record.split(separator: UInt8(ascii: "\t"), maxSplits: 4, omittingEmptySubsequences: false)
            guard fields.count == 5 else { continue }
            let text = fields.map { String(decoding: $0, as: UTF8.self) }
            let kind: FileEntry.Kind = switch text[0] { case "f": .file; case "d": .directory; case "l": .symlink; default: .other }
            entries.append(FileEntry(name: text[4], kind: kind, size: Int(text[1]) ?? 0, mode: text[2],
                                     modifiedAt: Date(timeIntervalSince1970: Double(text[3]) ?? 0)))
        }
        return (directory, entries.sorted { $0.name < $1.name })
    }

    public func archive(_ principal: Principal, serverID: String, directory: String) async throws -> [UInt8] {
        try principal.check(.scope(.serversRead))
        let directory = try Self.normalize(directory)
        return try await run(principal, serverID, #"[ -d "$1" ] || exit 44; exec tar -C "$1" -cf - ."#, [directory])
    }

    public func unpack(_ principal: Principal, serverID: String, directory: String, archive: [UInt8]) async throws {
        try principal.check(.scope(.serversWrite))
        let directory = try Self.normalize(directory)
        _ = try await run(principal, serverID, #"mkdir -p -- "$1" && exec tar -C "$1" -xf - --no-same-owner"#, [directory],
                          stdin: archive)
    }

    /// Runs `script` with `arguments` as `$1…` (never spliced into the script) and maps its
    /// outcome: 44 → no such path, 45 → a directory where a file was meant, 46 → the reverse.
    func run(_ principal: Principal, _ serverID: String, _ script: String, _ arguments: [String],
             stdin: [UInt8] = []) async throws -> [UInt8] {
        let result = try await servers.execRaw(principal, id: serverID,
                                               request: ExecRequest(argv: ["/bin/sh", "-c", script, "s4a-files"] + arguments,
                                                                    cwd: "/", stdin: stdin, timeout: .seconds(120),
                                                                    outputLimit: Self.maxBytes))
        switch result.exitCode {
        case 0:
            guard !result.truncated else {
                throw DomainError(.payloadTooLarge, "More than \(Self.maxBytes >> 20) MiB; fetch a smaller directory.")
            }
            return result.stdout
        case 44: throw DomainError(.notFound, "No such file or directory.")
        case 45: throw DomainError.unprocessable("path", "is a directory")
        case 46: throw DomainError.unprocessable("dir", "is not a directory")
        default:
            let reason = String(decoding: result.stderr.prefix(300), as: UTF8.self)
                .replacingOccurrences(of: "s4a-files: ", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
            throw DomainError(.unprocessable, reason.isEmpty ? "The operation failed inside the server." : reason)
        }
    }

    /// An absolute path without NUL bytes; a missing leading slash is added (URL segments lack it).
    static func normalize(_ raw: String) throws -> String {
        guard !raw.contains("\0"), raw.utf8.count <= 4096 else { throw DomainError.invalid("path", "is not a usable path") }
        let path = raw.hasPrefix("/") ? raw : "/" + raw
        return path
    }
}
