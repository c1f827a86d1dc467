import MCP
import S4AClient
import S4AContract

extension ToolCatalogue {
    static let serverID = JSONSchema.string("The server's id (srv_…), or project/name (the project's slug, then the server's name).")

    static let serverTools: [ToolDefinition] = [
        ToolDefinition(
            name: "create_server",
            description: """
                Create an isolated Linux server in a project and start it. It has its own persistent disk, \
                CPU/memory/disk limits and a hard budget cap in US dollars: it is stopped when the cap is spent, \
                and can never spend more. The `base` template has sh, coreutils, python3 and git. Network \
                `none` (default) allows only the server's own loopback; `egress` allows outbound internet access.
                """,
            scopes: ["servers:write"],
            inputSchema: JSONSchema.object([
                "project": projectReference,
                "name": JSONSchema.string("A name for the server.", maxLength: 100),
                "budget_usd": JSONSchema.money("Hard spending cap in US dollars, e.g. \"1.00\" or 1 (at most six decimals)."),
                "template": JSONSchema.string("Base image (default `base`)."),
                "cpu_millis": JSONSchema.integer("CPU in thousandths of a core (default 1000).", minimum: 100, maximum: 4000),
                "memory_mb": JSONSchema.integer("Memory in MiB (default 512).", minimum: 64, maximum: 8192),
                "disk_mb": JSONSchema.integer("Persistent disk in MiB (default 1024).", minimum: 64, maximum: 16384),
                "network": JSONSchema.string("`none` (default) or `egress`.", oneOf: ["none", "egress"]),
            ], required: ["project", "name", "budget_usd"]),
            annotations: .additive
        ) { arguments, connection in
            let project = try await References.projectID(try arguments.string("project"), connection)
            let body = Components.Schemas.ServerCreate(
                projectId: project, name: try arguments.string("name"), template: arguments.optionalString("template"),
                cpuMillis: arguments.optionalInt("cpu_millis"), memoryMb: arguments.optionalInt("memory_mb"),
                diskMb: arguments.optionalInt("disk_mb"), budgetUsd: try arguments.money("budget_usd"),
                network: arguments.optionalString("network").flatMap(Components.Schemas.NetworkMode.init(rawValue:)))
            switch try await connection.client.createServer(body: .json(body)) {
            case .created(let created): return try .json(try created.body.json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "list_servers",
            description: "List servers (all, or one project's) with their state, limits, budget cap and deployed app.",
            scopes: ["servers:read"],
            inputSchema: JSONSchema.object(["project": JSONSchema.string("Only this project's servers (id or slug).")]),
            annotations: .readOnly
        ) { arguments, connection in
            let project = try await arguments.optionalString("project").asyncMap { try await References.projectID($0, connection) }
            var servers: [Components.Schemas.Server] = []
            var cursor: String?
            repeat {
                switch try await connection.client.listServers(query: .init(projectId: project, cursor: cursor, limit: 200)) {
                case .ok(let ok):
                    let page = try ok.body.json
                    servers += page.items
                    cursor = page.nextCursor
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            } while cursor != nil
            return try .json(servers)
        },
        ToolDefinition(
            name: "get_server",
            description: """
                Show one server: state (creating, running, stopped, exhausted = budget spent, failed, deleted), \
                limits, budget cap, last error, and its deployed app's state, restarts and last exit code.
                """,
            scopes: ["servers:read"], inputSchema: JSONSchema.object(["server_id": serverID], required: ["server_id"]),
            annotations: .readOnly
        ) { arguments, connection in
            switch try await connection.client.getServer(path: .init(serverId: try await References.serverID(try arguments.string("server_id"), connection))) {
            case .ok(let ok): return try .json(try ok.body.json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "stop_server",
            description: "Stop every process of a server (its app included). The disk is kept and it costs nothing while stopped.",
            scopes: ["servers:write"], inputSchema: JSONSchema.object(["server_id": serverID], required: ["server_id"]),
            annotations: .idempotent
        ) { arguments, connection in
            switch try await connection.client.stopServer(path: .init(serverId: try await References.serverID(try arguments.string("server_id"), connection))) {
            case .ok(let ok): return try .json(try ok.body.json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "start_server",
            description: "Start a stopped or failed server again; its deployed app starts with it.",
            scopes: ["servers:write"], inputSchema: JSONSchema.object(["server_id": serverID], required: ["server_id"]),
            annotations: .idempotent
        ) { arguments, connection in
            switch try await connection.client.startServer(path: .init(serverId: try await References.serverID(try arguments.string("server_id"), connection))) {
            case .ok(let ok): return try .json(try ok.body.json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "delete_server",
            description: "Destroy a server and its disk for good. What it was charged stays on the account.",
            scopes: ["servers:write"], inputSchema: JSONSchema.object(["server_id": serverID], required: ["server_id"]),
            annotations: .destructive
        ) { arguments, connection in
            let server = try await References.serverID(try arguments.string("server_id"), connection)
            switch try await connection.client.deleteServer(path: .init(serverId: server)) {
            case .noContent: return ToolOutput(text: "Deleted \(server).")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
    ]
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
