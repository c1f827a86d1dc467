import Foundation
import S4ADomain

/// The server's files, from the host through its root (see `ServerRoot`): no program runs.
extension RuncRuntime {
    func serverRoot(_ server: ContainerSpec) throws -> ServerRoot {
        try Self.checkID(server.id)
        // The block the server holds on this host (it may differ from the database's proposal).
        var server = server
        if let recorded = recordedUIDBase(server.id) { server.hostUIDBase = recorded }
        return try ServerRoot(runcRoot: layout.runcRoot, server: server)
    }

    public func listDirectory(_ server: ContainerSpec, _ path: String) async throws -> [FileEntry] {
        try serverRoot(server).list(path)
    }

    public func openFile(_ server: ContainerSpec, _ path: String) async throws -> any ServerFileReader {
        try serverRoot(server).openFile(path)
    }

    public func writeFile(_ server: ContainerSpec, _ path: String, bytes: [UInt8]) async throws {
        try serverRoot(server).write(path, bytes: bytes)
    }

    public func remove(_ server: ContainerSpec, _ path: String) async throws {
        try serverRoot(server).remove(path)
    }

    public func archive(_ server: ContainerSpec, directory: String, prefix: String) async throws -> any ServerTreeArchive {
        try TreeArchive(root: try serverRoot(server), path: directory, prefix: prefix)
    }

    public func unpack(_ server: ContainerSpec, directory: String, archive: [UInt8]) async throws {
        try serverRoot(server).unpack(directory, archive: archive)
    }
}
