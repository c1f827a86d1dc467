import Foundation
import MCP
import S4AClient
import S4AContract

/// Each server's recent logs as an MCP resource: `s4a://servers/{server_id}/logs`.
enum LogResources {
    static let template = Resource.Template(
        uriTemplate: "s4a://servers/{server_id}/logs", name: "server-logs",
        description: "A server's most recent log lines (its app and background commands), oldest first; secrets masked.",
        mimeType: "text/plain")

    static let recentLines = 200

    static func uri(_ serverID: String) -> String { "s4a://servers/\(serverID)/logs" }

    /// The server id in a logs URI, or nil for any other URI.
    static func serverID(in uri: String) -> String? {
        let prefix = "s4a://servers/", suffix = "/logs"
        guard uri.hasPrefix(prefix), uri.hasSuffix(suffix), uri.count > prefix.count + suffix.count else { return nil }
        let id = String(uri.dropFirst(prefix.count).dropLast(suffix.count))
        return id.contains("/") ? nil : id
    }

    static func list(_ connection: APIConnection) async throws -> [Resource] {
        var resources: [Resource] = []
        var cursor: String?
        repeat {
            switch try await connection.client.listServers(query: .init(cursor: cursor, limit: 200)) {
            case .ok(let ok):
                let page = try ok.body.json
                resources += page.items.map { server in
                    Resource(name: "Logs of \(server.name)", uri: uri(server.id),
                             description: "Recent log lines of server \(server.id) (\(server.state.rawValue)).",
                             mimeType: "text/plain")
                }
                cursor = page.nextCursor
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        } while cursor != nil
        return resources
    }

    static func read(_ uri: String, _ connection: APIConnection) async throws -> String {
        guard let server = serverID(in: uri) else {
            throw ToolInputError("Unknown resource \(uri); server logs are s4a://servers/{server_id}/logs.")
        }
        let lines = try await LogText.lines(server: server, limit: recentLines, connection)
        return lines.isEmpty ? "(no log lines)" : LogText.format(lines)
    }
}
