import MCP
import S4AClient
import S4AContract

extension ToolCatalogue {
    static let drainTools: [ToolDefinition] = [
        ToolDefinition(
            name: "create_log_drain",
            description: """
                Stream a project's server logs and/or activity events to an https:// endpoint you run (batches \
                of JSON Lines, each record numbered, retried until accepted). Each request is signed: header \
                X-S4A-Signature is sha256=<hex HMAC-SHA256 of "<X-S4A-Timestamp>.<body>"> under the secret this \
                tool returns once — store it where the receiver can check signatures. At most 5 per project.
                """,
            scopes: ["projects:write"],
            inputSchema: JSONSchema.object([
                "project": projectReference,
                "url": JSONSchema.string("The receiver's https:// URL (no credentials in it).", maxLength: 2000),
                "kinds": JSONSchema.string("What to send; both when absent.", oneOf: ["logs", "activity", "both"]),
            ], required: ["project", "url"]),
            annotations: .additive
        ) { arguments, connection in
            let projectID = try await References.projectID(try arguments.string("project"), connection)
            let kinds: [Components.Schemas.LogDrainKind]? = switch arguments.optionalString("kinds") {
            case "logs": [.logs]
            case "activity": [.activity]
            default: nil
            }
            let body = Components.Schemas.LogDrainCreate(url: try arguments.string("url"), kinds: kinds)
            switch try await connection.client.createLogDrain(path: .init(projectId: projectID), body: .json(body)) {
            case .created(let created):
                return try .json(try created.body.json, note: "Created; the secret is shown this once:")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "list_log_drains",
            description: """
                A project's log drains: where each sends, what (logs, activity), how many records the endpoint \
                accepted, how many log lines were dropped while it was down or slow, and its last error. Never \
                a secret.
                """,
            scopes: ["projects:read"],
            inputSchema: JSONSchema.object(["project": projectReference], required: ["project"]),
            annotations: .readOnly
        ) { arguments, connection in
            let projectID = try await References.projectID(try arguments.string("project"), connection)
            switch try await connection.client.listLogDrains(path: .init(projectId: projectID)) {
            case .ok(let ok):
                let drains = try ok.body.json.items
                return try .json(drains, note: drains.isEmpty ? "No drains; create one with create_log_drain." : nil)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "delete_log_drain",
            description: "Stop a log drain: nothing more is sent to its endpoint (what was buffered is discarded).",
            scopes: ["projects:write"],
            inputSchema: JSONSchema.object([
                "project": projectReference,
                "drain_id": JSONSchema.string("The drain's id (ldr_…), from list_log_drains."),
            ], required: ["project", "drain_id"]),
            annotations: .destructive
        ) { arguments, connection in
            let projectID = try await References.projectID(try arguments.string("project"), connection)
            let drain = try arguments.string("drain_id")
            switch try await connection.client.deleteLogDrain(path: .init(projectId: projectID, drainId: drain)) {
            case .noContent: return ToolOutput(text: "Deleted log drain \(drain).")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
    ]
}
