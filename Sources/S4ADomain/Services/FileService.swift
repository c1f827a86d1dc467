import Foundation

/// Files of a running server, read and written from the host through the runtime's
/// `ServerFilesystem`: nothing of the server's runs for them, and every path resolves inside
/// the server's own root, so `..`, absolute symlinks, links to other servers or the host, and
/// links swapped in mid-request can only ever name the server's own files.
public struct FileService: Sendable {
    let servers: ServerService
    /// Largest upload (a file or an archive) and largest file read whole (the dashboard).
    public static let maxBytes = 64 << 20

    public init(servers: ServerService) { self.servers = servers }

    var filesystem: any ServerFilesystem { servers.runtime }

    public func write(_ principal: Principal, serverID: String, path: String, bytes: [UInt8]) async throws {
        try principal.check(.scope(.serversWrite))
        let path = try Self.normalize(path)
        guard path != "/" else { throw DomainError.unprocessable("path", "must name a file") }
        try await filesystem.writeFile(try await target(principal, serverID), path, bytes: bytes)
    }

    /// A file whole, up to `maxBytes`.
    public func read(_ principal: Principal, serverID: String, path: String) async throws -> [UInt8] {
        let file = try await open(principal, serverID: serverID, path: path)
        guard file.size <= Self.maxBytes else {
            throw DomainError(.payloadTooLarge, "The file is over \(Self.maxBytes >> 20) MiB; download it instead.")
        }
        var bytes: [UInt8] = []
        while true {
            let piece = try file.read(1 << 20)
            if piece.isEmpty { return bytes }
            bytes += piece
        }
    }

    /// A file to stream: its size as it was when opened, then exactly that many bytes.
    public func open(_ principal: Principal, serverID: String, path: String) async throws -> any ServerFileReader {
        try principal.check(.scope(.serversRead))
        let path = try Self.normalize(path)
        return try await filesystem.openFile(try await target(principal, serverID), path)
    }

    public func delete(_ principal: Principal, serverID: String, path: String) async throws {
        try principal.check(.scope(.serversWrite))
        let path = try Self.normalize(path)
        guard path != "/" else { throw DomainError.unprocessable("path", "cannot be the root directory") }
        try await filesystem.remove(try await target(principal, serverID), path)
    }

    public func list(_ principal: Principal, serverID: String, directory: String) async throws -> (String, [FileEntry]) {
        try principal.check(.scope(.serversRead))
        let directory = try Self.normalize(directory)
        let entries = try await filesystem.listDirectory(try await target(principal, serverID), directory)
        return (directory, entries.sorted { $0.name < $1.name })
    }

    /// Checks the directory now; the archive is made as it is written (and stops with the writer).
    public func archive(_ principal: Principal, serverID: String, directory: String) async throws -> any ServerTreeArchive {
        try principal.check(.scope(.serversRead))
        let directory = try Self.normalize(directory)
        return try await filesystem.archive(try await target(principal, serverID), directory: directory, prefix: "")
    }

    public func unpack(_ principal: Principal, serverID: String, directory: String, archive: [UInt8]) async throws {
        try principal.check(.scope(.serversWrite))
        let directory = try Self.normalize(directory)
        try await filesystem.unpack(try await target(principal, serverID), directory: directory, archive: archive)
    }

    func target(_ principal: Principal, _ serverID: String) async throws -> ContainerSpec {
        ContainerSpec(server: try await servers.runningServer(principal, serverID))
    }

    /// An absolute path without NUL bytes; a missing leading slash is added (URL segments lack it).
    static func normalize(_ raw: String) throws -> String {
        guard !raw.contains("\0"), raw.utf8.count <= 4096 else { throw DomainError.invalid("path", "is not a usable path") }
        let path = raw.hasPrefix("/") ? raw : "/" + raw
        return path
    }
}
