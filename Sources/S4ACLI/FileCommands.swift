import ArgumentParser
import Foundation
import OpenAPIRuntime
import S4AClient
import S4AContract

struct FilesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files", abstract: "Files of a running server: put, get, ls, rm, and whole directories as tar (push, pull).",
        subcommands: [Put.self, Get.self, List.self, Remove.self, Pull.self, Push.self])

    /// Whether `path` is a directory in the server (a path ending in / always means one).
    static func isDirectory(_ path: String, server: String, _ connection: APIConnection) async throws -> Bool {
        if path.hasSuffix("/") { return true }
        switch try await connection.client.listFiles(path: .init(serverId: server), query: .init(dir: path)) {
        case .ok: return true
        case .default: return false
        }
    }

    static func unpack(_ archive: Data, into directory: String, server: String, _ connection: APIConnection) async throws {
        switch try await connection.client.uploadArchive(path: .init(serverId: server), query: .init(dir: directory),
                                                         body: .applicationXTar(HTTPBody([UInt8](archive)))) {
        case .noContent: return
        case .default(let status, let problem): throw APIProblem(status: status, problem)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a file or a directory with everything in it.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
        @Argument(help: "The path inside the server.") var path: String

        func run() async throws {
            try await withConnection(client) { connection in
                switch try await connection.client.deleteFile(path: .init(serverId: try await References.serverID(server, connection), path: ServerPath.absolute(path))) {
                case .noContent: return
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(["removed": path]) } else { print("Removed \(path).") }
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download a directory of the server as a tar archive (to a file, or standard output).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
        @Argument(help: "The directory inside the server.") var directory: String
        @Argument(help: "A local .tar file to write.") var destination: String?

        func run() async throws {
            let bytes = try await withConnection(client) { connection in
                switch try await connection.client.downloadArchive(path: .init(serverId: try await References.serverID(server, connection)), query: .init(dir: directory)) {
                case .ok(let ok): return try await [UInt8](collecting: try ok.body.applicationXTar, upTo: 64 << 20)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if let destination { try LocalFiles.write(Data(bytes), to: destination) } else {
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a local directory's contents, a tar archive or standard input (-) into a directory of the server.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
        @Argument(help: "A local directory, a .tar file, or - for a tar archive on standard input.") var source: String
        @Argument(help: "The directory inside the server (made if needed; relative: under /root).") var directory: String

        func run() async throws {
            let data = source == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                : LocalFiles.isDirectory(source) ? try LocalFiles.tar(directory: source) : try LocalFiles.read(source)
            let directory = ServerPath.absolute(self.directory)
            try await withConnection(client) { connection in
                let id = try await References.serverID(server, connection)
                try await FilesCommand.unpack(data, into: directory, server: id, connection)
            }
            if client.json { try Output.json(["unpacked": directory, "bytes": "\(data.count)"]) } else {
                print("Unpacked \(data.count) bytes into \(directory).")
            }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a local file or directory (or - for standard input) to a path in the server.",
            discussion: """
                As cp -r does: into an existing directory (or a path ending in /) it goes under its own \
                name; else it takes the path's name. A directory is copied with everything in it.
                """)
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
        @Argument(help: "A local file or directory, or - for standard input.") var source: String
        @Argument(help: "The path inside the server (relative: under /root).") var destination: String

        func run() async throws {
            let directory = source != "-" && LocalFiles.isDirectory(source)
            let data = source == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                : directory ? try LocalFiles.tar(directory: source) : try LocalFiles.read(source)
            let name = URL(fileURLWithPath: source).standardizedFileURL.lastPathComponent
            let written = try await withConnection(client) { connection in
                let id = try await References.serverID(server, connection)
                var target = ServerPath.absolute(self.destination)
                if source != "-", try await FilesCommand.isDirectory(target, server: id, connection) {
                    target = (target.hasSuffix("/") ? target : target + "/") + name
                }
                if directory {
                    try await FilesCommand.unpack(data, into: target, server: id, connection)
                    return target
                }
                switch try await connection.client.writeFile(path: .init(serverId: id, path: target),
                                                             body: .binary(HTTPBody([UInt8](data)))) {
                case .noContent: return target
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(["written": written, "bytes": "\(data.count)"]) } else {
                print(directory ? "Copied \(source) into \(written)." : "Wrote \(data.count) bytes to \(written).")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download a file from the server (to standard output without a destination).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
        @Argument(help: "The path inside the server.") var source: String
        @Argument(help: "A local file to write.") var destination: String?

        func run() async throws {
            let bytes = try await withConnection(client) { connection in
                switch try await connection.client.readFile(path: .init(serverId: try await References.serverID(server, connection), path: ServerPath.absolute(source))) {
                case .ok(let ok): return try await [UInt8](collecting: try ok.body.binary, upTo: 64 << 20)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if var destination {
                // Into a local directory: under the file's own name, as cp does.
                if LocalFiles.isDirectory(destination) || destination.hasSuffix("/") {
                    destination = (destination.hasSuffix("/") ? destination : destination + "/")
                        + (source.split(separator: "/").last.map(String.init) ?? "file")
                }
                try LocalFiles.write(Data(bytes), to: destination)
            } else {
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a directory of the server.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
        @Argument(help: "The directory (default /root).") var directory: String?

        func run() async throws {
            let listing = try await withConnection(client) { connection in
                switch try await connection.client.listFiles(path: .init(serverId: try await References.serverID(server, connection)), query: .init(dir: directory.map(ServerPath.absolute))) {
                case .ok(let ok): return try ok.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { return try Output.json(listing) }
            Output.table(["mode", "size", "modified", "name"], listing.items.map {
                [$0.mode, String($0.size), Output.date($0.modifiedAt), $0._type == .directory ? $0.name + "/" : $0.name]
            })
        }
    }
}
