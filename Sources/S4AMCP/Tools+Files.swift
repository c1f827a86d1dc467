import Foundation
import MCP
import OpenAPIRuntime
import S4AClient
import S4AContract

extension ToolCatalogue {
    /// What read_file hands back; bigger files are for exec (head, grep) or the archive.
    static let readLimit = 1 << 20

    static let fileTools: [ToolDefinition] = [
        ToolDefinition(
            name: "write_file",
            description: """
                Create or replace a file inside a server (parent directories are created). Paths are inside \
                the server's own root, e.g. /srv/app.py; /root, /srv, /opt, /home, /var, /etc and /workspace \
                are writable and persist on its disk. Content is text, or base64 with encoding=base64.
                """,
            scopes: ["servers:write"],
            inputSchema: JSONSchema.object([
                "server_id": serverID,
                "path": JSONSchema.string("The file's path inside the server; a relative one is under /root, where exec starts."),
                "content": JSONSchema.string("The file's whole content."),
                "encoding": JSONSchema.string("`text` (default, UTF-8) or `base64`.", oneOf: ["text", "base64"]),
            ], required: ["server_id", "path", "content"]),
            annotations: .idempotent
        ) { arguments, connection in
            let content = try arguments.string("content")
            let bytes: [UInt8]
            if arguments.optionalString("encoding") == "base64" {
                guard let data = Data(base64Encoded: content, options: .ignoreUnknownCharacters) else {
                    throw ToolInputError("'content' is not valid base64.")
                }
                bytes = [UInt8](data)
            } else {
                bytes = Array(content.utf8)
            }
            let path = ServerPath.absolute(try arguments.string("path"))
            switch try await connection.client.writeFile(path: .init(serverId: try await References.serverID(try arguments.string("server_id"), connection), path: path),
                                                         body: .binary(HTTPBody(bytes))) {
            case .noContent: return ToolOutput(text: "Wrote \(bytes.count) bytes to \(path).")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "read_file",
            description: """
                Read a file from inside a server (at most 1 MiB; use exec with head or grep for bigger ones). \
                Text comes back as is; other bytes as base64, or always with encoding=base64.
                """,
            scopes: ["servers:read"],
            inputSchema: JSONSchema.object([
                "server_id": serverID,
                "path": JSONSchema.string("The file's path inside the server; a relative one is under /root, where exec starts."),
                "encoding": JSONSchema.string("`text` (default; base64 when the file is not UTF-8) or `base64`.",
                                              oneOf: ["text", "base64"]),
            ], required: ["server_id", "path"]),
            annotations: .readOnly
        ) { arguments, connection in
            let path = ServerPath.absolute(try arguments.string("path"))
            switch try await connection.client.readFile(path: .init(serverId: try await References.serverID(try arguments.string("server_id"), connection), path: path)) {
            case .ok(let ok):
                let body = try ok.body.binary
                if case .known(let length) = body.length, length > readLimit {
                    throw ToolInputError("\(path) has \(length) bytes, more than read_file returns (\(readLimit)); use exec with head, tail or grep.")
                }
                let bytes: [UInt8]
                do {
                    bytes = try await [UInt8](collecting: body, upTo: readLimit)
                } catch {
                    throw ToolInputError("\(path) is larger than read_file returns (\(readLimit) bytes); use exec with head, tail or grep.")
                }
                if arguments.optionalString("encoding") != "base64", let text = String(validating: bytes, as: UTF8.self) {
                    return ToolOutput(text: text)
                }
                return ToolOutput(text: "base64 (\(bytes.count) bytes):\n" + Data(bytes).base64EncodedString())
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "list_files",
            description: "List one directory inside a server (default /root): name, type, size, mode and modification time.",
            scopes: ["servers:read"],
            inputSchema: JSONSchema.object([
                "server_id": serverID,
                "dir": JSONSchema.string("The directory (default /root; a relative one is under /root)."),
            ], required: ["server_id"]),
            annotations: .readOnly
        ) { arguments, connection in
            switch try await connection.client.listFiles(path: .init(serverId: try await References.serverID(try arguments.string("server_id"), connection)),
                                                         query: .init(dir: arguments.optionalString("dir").map(ServerPath.absolute))) {
            case .ok(let ok): return try .json(try ok.body.json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
    ]
}
