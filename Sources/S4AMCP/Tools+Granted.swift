import MCP
import S4AClient
import S4AContract

extension ToolCatalogue {
    /// Decisions a person usually keeps: offered only when the key was given the scope.
    static let grantedTools: [ToolDefinition] = [
        ToolDefinition(
            name: "set_visibility",
            description: """
                Make a project public (its URL serves the attached server to anyone on the internet) or \
                private again (the URL answers as if it did not exist). The URL itself never changes.
                """,
            scopes: ["projects:write", "projects:publish"],
            inputSchema: JSONSchema.object([
                "project": projectReference,
                "visibility": JSONSchema.string("`public` or `private`.", oneOf: ["public", "private"]),
            ], required: ["project", "visibility"]),
            annotations: Tool.Annotations(readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: true)
        ) { arguments, connection in
            let project = try await References.projectID(try arguments.string("project"), connection)
            guard let visibility = Components.Schemas.Visibility(rawValue: try arguments.string("visibility")) else {
                throw ToolInputError("'visibility' must be public or private.")
            }
            switch try await connection.client.updateProject(path: .init(projectId: project),
                                                             body: .json(.init(visibility: visibility))) {
            case .ok(let ok): return try .json(try ok.body.json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "set_budget",
            description: """
                Change a server's hard budget cap in US dollars (within the key's ceiling and the account's \
                limit). A server stopped as exhausted needs start_server afterwards.
                """,
            scopes: ["budget:write"],
            inputSchema: JSONSchema.object([
                "server_id": serverID,
                "budget_usd": JSONSchema.money("The new cap in US dollars, e.g. \"10.00\" or 10."),
            ], required: ["server_id", "budget_usd"]),
            annotations: .idempotent
        ) { arguments, connection in
            switch try await connection.client.updateServerBudget(path: .init(serverId: try await References.serverID(try arguments.string("server_id"), connection)),
                                                                  body: .json(.init(budgetUsd: try arguments.money("budget_usd")))) {
            case .ok(let ok): return try .json(try ok.body.json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
    ]
}
