import Foundation
import OpenAPIRuntime
import S4AContract
import S4ADomain

extension APIHandler {
    func listFiles(_ input: Operations.ListFiles.Input) async throws -> Operations.ListFiles.Output {
        let (directory, entries) = try await files.list(try RequestScope.requirePrincipal(), serverID: input.path.serverId,
                                                        directory: input.query.dir ?? Server.home)
        let items = entries.map { entry in
            Components.Schemas.FileEntry(name: entry.name, _type: .init(rawValue: entry.kind.rawValue) ?? .other,
                                         size: entry.size, mode: entry.mode, modifiedAt: entry.modifiedAt)
        }
        return .ok(.init(body: .json(.init(dir: directory, items: items))))
    }

    func readFile(_ input: Operations.ReadFile.Input) async throws -> Operations.ReadFile.Output {
        let file = try await files.open(try RequestScope.requirePrincipal(), serverID: input.path.serverId, path: input.path.path)
        return .ok(.init(body: .binary(HTTPBody(FileChunks(file: file), length: .known(Int64(file.size)), iterationBehavior: .single))))
    }

    func writeFile(_ input: Operations.WriteFile.Input) async throws -> Operations.WriteFile.Output {
        guard case .binary(let body) = input.body else { throw DomainError.invalid("body", "must be the file's bytes") }
        let bytes = try await Self.collect(body)
        try await files.write(try RequestScope.requirePrincipal(), serverID: input.path.serverId, path: input.path.path, bytes: bytes)
        return .noContent(.init())
    }

    func deleteFile(_ input: Operations.DeleteFile.Input) async throws -> Operations.DeleteFile.Output {
        try await files.delete(try RequestScope.requirePrincipal(), serverID: input.path.serverId, path: input.path.path)
        return .noContent(.init())
    }

    func downloadArchive(_ input: Operations.DownloadArchive.Input) async throws -> Operations.DownloadArchive.Output {
        let tree = try await files.archive(try RequestScope.requirePrincipal(), serverID: input.path.serverId,
                                           directory: input.query.dir)
        let mtime = Date()
        return .ok(.init(body: .applicationXTar(streamedBody { send in
            let tar = TarWriter(mtime: mtime, output: send)
            _ = try await tree.write(to: tar)
            try await tar.finish()
        })))
    }

    func uploadArchive(_ input: Operations.UploadArchive.Input) async throws -> Operations.UploadArchive.Output {
        guard case .applicationXTar(let body) = input.body else { throw DomainError.invalid("body", "must be a tar archive") }
        try await files.unpack(try RequestScope.requirePrincipal(), serverID: input.path.serverId, directory: input.query.dir,
                               archive: try await Self.collect(body))
        return .noContent(.init())
    }

    static func collect(_ body: HTTPBody) async throws -> [UInt8] {
        do {
            return try await [UInt8](collecting: body, upTo: FileService.maxBytes)
        } catch {
            throw DomainError(.payloadTooLarge, "The body is over \(FileService.maxBytes >> 20) MiB.")
        }
    }
}

/// A server's file as it is read, a piece per pull: nothing is read ahead of the client.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let file: any ServerFileReader

    struct AsyncIterator: AsyncIteratorProtocol {
        let file: any ServerFileReader
        func next() async throws -> ArraySlice<UInt8>? {
            let piece = try file.read(1 << 16)
            return piece.isEmpty ? nil : piece[...]
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(file: file) }
}
