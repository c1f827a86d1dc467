import ArgumentParser
import Foundation
import OpenAPIRuntime
import S4AClient
import S4AContract

struct FilesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files", abstract: "Files of a running server: put, get, ls, rm, and whole directories as tar (push, pull).",
        subcommands: [Put.self, Get.self, List.self, Remove.self, Pull.self, Push.self])

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a file or a directory with everything in it.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server's id.") var server: String
        @Argument(help: "The path inside the server.") var path: String

        func run() async throws {
            try await withConnection(client) { connection in
                switch try await connection.client.deleteFile(path: .init(serverId: server, path: ServerPath.absolute(path))) {
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
        @Argument(help: "The server's id.") var server: String
        @Argument(help: "The directory inside the server.") var directory: String
        @Argument(help: "A local .tar file to write.") var destination: String?

        func run() async throws {
            let bytes = try await withConnection(client) { connection in
                switch try await connection.client.downloadArchive(path: .init(serverId: server), query: .init(dir: directory)) {
                case .ok(let ok): return try await [UInt8](collecting: try ok.body.applicationXTar, upTo: 64 << 20)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if let destination { try Data(bytes).write(to: URL(fileURLWithPath: destination)) } else {
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
    }

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Unpack a local tar archive (or - for standard input) into a directory of the server.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server's id.") var server: String
        @Argument(help: "A local .tar file, or - for standard input.") var source: String
        @Argument(help: "The directory inside the server (made if needed).") var directory: String

        func run() async throws {
            let data = source == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                : try Data(contentsOf: URL(fileURLWithPath: source))
            try await withConnection(client) { connection in
                switch try await connection.client.uploadArchive(path: .init(serverId: server), query: .init(dir: directory),
                                                                 body: .applicationXTar(HTTPBody([UInt8](data)))) {
                case .noContent: return
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(["unpacked": directory, "bytes": "\(data.count)"]) } else {
                print("Unpacked \(data.count) bytes into \(directory).")
            }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Upload a local file (or - for standard input) to a path in the server.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server's id.") var server: String
        @Argument(help: "A local file, or - for standard input.") var source: String
        @Argument(help: "The path inside the server (relative: under /root).") var destination: String

        func run() async throws {
            let data = source == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                : try Data(contentsOf: URL(fileURLWithPath: source))
            let destination = ServerPath.absolute(self.destination)
            try await withConnection(client) { connection in
                switch try await connection.client.writeFile(path: .init(serverId: server, path: destination),
                                                             body: .binary(HTTPBody([UInt8](data)))) {
                case .noContent: return
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(["written": destination, "bytes": "\(data.count)"]) } else {
                print("Wrote \(data.count) bytes to \(destination).")
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download a file from the server (to standard output without a destination).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server's id.") var server: String
        @Argument(help: "The path inside the server.") var source: String
        @Argument(help: "A local file to write.") var destination: String?

        func run() async throws {
            let bytes = try await withConnection(client) { connection in
                switch try await connection.client.readFile(path: .init(serverId: server, path: ServerPath.absolute(source))) {
                case .ok(let ok): return try await [UInt8](collecting: try ok.body.binary, upTo: 64 << 20)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if let destination {
                try Data(bytes).write(to: URL(fileURLWithPath: destination))
            } else {
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List a directory of the server.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server's id.") var server: String
        @Argument(help: "The directory (default /root).") var directory: String?

        func run() async throws {
            let listing = try await withConnection(client) { connection in
                switch try await connection.client.listFiles(path: .init(serverId: server), query: .init(dir: directory.map(ServerPath.absolute))) {
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
