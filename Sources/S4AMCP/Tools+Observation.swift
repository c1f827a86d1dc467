import Foundation
import MCP
import S4AClient
import S4AContract

extension ToolCatalogue {
    static let observationTools: [ToolDefinition] = [
        ToolDefinition(
            name: "get_logs",
            description: """
                Read a server's logs, oldest first: what its deployed app and background commands printed \
                (stdout, stderr) and system lines such as the app's access log, exits and restarts, each with \
                its time. Secret values are masked. Filter by time or text to find errors.
                """,
            scopes: ["servers:read"],
            inputSchema: JSONSchema.object([
                "server_id": serverID,
                "since": JSONSchema.string("Only lines at or after this RFC 3339 time, e.g. 2026-11-27T10:00:00Z."),
                "until": JSONSchema.string("Only lines at or before this RFC 3339 time."),
                "q": JSONSchema.string("Only lines containing this text (case-insensitive).", maxLength: 1000),
                "limit": JSONSchema.integer("At most this many lines, the newest (default 200).", minimum: 1, maximum: 10000),
            ], required: ["server_id"]),
            annotations: .readOnly
        ) { arguments, connection in
            let lines = try await LogText.lines(
                server: try await References.serverID(try arguments.string("server_id"), connection), since: try time(arguments, "since"), until: try time(arguments, "until"),
                q: arguments.optionalString("q"), limit: arguments.optionalInt("limit") ?? 200, connection)
            return ToolOutput(text: lines.isEmpty ? "(no log lines)" : LogText.format(lines))
        },
        ToolDefinition(
            name: "get_usage",
            description: """
                Spend against budget caps, in US dollars. With server_id: that server's cap, what it was \
                charged, what its current lease holds, what remains, its hourly rate while running, and CPU, \
                memory and spend samples of the last hour. Without: every server of the account and the total.
                """,
            scopes: ["servers:read"],
            inputSchema: JSONSchema.object(["server_id": JSONSchema.string("A server's id or project/name; omit for the whole account.")]),
            annotations: .readOnly
        ) { arguments, connection in
            guard let server = arguments.optionalString("server_id") else {
                switch try await connection.client.getAccountUsage() {
                case .ok(let ok): return try .json(try ok.body.json)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            let until = Date()
            switch try await connection.client.getServerUsage(
                path: .init(serverId: try await References.serverID(server, connection)),
                query: .init(since: until.addingTimeInterval(-3600), until: until, step: 60)) {
            case .ok(let ok): return try .json(try ok.body.json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "get_activity",
            description: """
                The account's activity log, newest first: who (a person or an API key) created, deployed, \
                attached, published or deleted what, and when. Secret changes name the secret only.
                """,
            scopes: ["activity:read"],
            inputSchema: JSONSchema.object([
                "project": JSONSchema.string("Only this project's events (id or slug)."),
                "action": JSONSchema.string("Only this action, e.g. server.created or project.visibility_changed."),
                "limit": JSONSchema.integer("How many events (default 50).", minimum: 1, maximum: 200),
            ]),
            annotations: .readOnly
        ) { arguments, connection in
            let project = try await arguments.optionalString("project").asyncMap { try await References.projectID($0, connection) }
            switch try await connection.client.listActivity(query: .init(projectId: project, action: arguments.optionalString("action"),
                                                                         limit: arguments.optionalInt("limit"))) {
            case .ok(let ok): return try .json(try ok.body.json.items)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
    ]

    static func time(_ arguments: ToolArguments, _ name: String) throws -> Date? {
        guard let text = arguments.optionalString(name) else { return nil }
        guard let date = try? RFC3339DateTranscoder().decode(text) else {
            throw ToolInputError("'\(name)' must be an RFC 3339 time such as 2026-11-27T10:00:00Z.")
        }
        return date
    }
}
