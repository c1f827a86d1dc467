import MCP
import S4AClient
import S4AContract

extension ToolCatalogue {
    static let secretTools: [ToolDefinition] = [
        ToolDefinition(
            name: "set_secret",
            description: """
                Store a secret (an API token, a database URL…) for a project's servers or one server. It is \
                encrypted at rest and reaches the server only as an environment variable of the processes it \
                starts afterwards (redeploy or restart the app to pick it up); a server secret overrides a \
                project secret of the same name. The value is never shown again, by any tool.
                """,
            scopes: ["secrets:write"],
            inputSchema: JSONSchema.object([
                "name": JSONSchema.string("An environment variable name, e.g. STRIPE_KEY."),
                "value": JSONSchema.string("The secret value, at most 64 KiB.", maxLength: 65536),
                "project": JSONSchema.string("For every server of this project (id or slug). Give this or server_id."),
                "server_id": JSONSchema.string("For this server only (srv_…). Give this or project."),
            ], required: ["name", "value"]),
            annotations: .idempotent
        ) { arguments, connection in
            let name = try arguments.string("name"), value = try arguments.string("value")
            let project = arguments.optionalString("project"), server = arguments.optionalString("server_id")
            guard (project == nil) != (server == nil) else { throw ToolInputError("Give either 'project' or 'server_id'.") }
            let secret: Components.Schemas.Secret
            if let server {
                let serverID = try await References.serverID(server, connection)
                switch try await connection.client.setServerSecret(path: .init(serverId: serverID, name: name),
                                                                   body: .json(.init(value: value))) {
                case .ok(let ok): secret = try ok.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            } else {
                let projectID = try await References.projectID(project ?? "", connection)
                switch try await connection.client.setProjectSecret(path: .init(projectId: projectID, name: name),
                                                                    body: .json(.init(value: value))) {
                case .ok(let ok): secret = try ok.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            // Names and versions only: the value does not come back.
            return ToolOutput(text: "Set secret \(secret.name) (\(secret.scope.rawValue) scope, version \(secret.version)). "
                              + "Processes started from now on get it as $\(secret.name).")
        },
    ]
}
