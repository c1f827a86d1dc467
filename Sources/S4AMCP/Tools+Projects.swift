import MCP
import S4AClient
import S4AContract

extension ToolCatalogue {
    static let projectReference = JSONSchema.string("The project's id (prj_…) or its slug.")

    static let projectTools: [ToolDefinition] = [
        ToolDefinition(
            name: "list_projects",
            description: """
                List the projects this API key can reach: id, name, slug, visibility (private or public), \
                the stable URL and which server is attached to it. Start here to find a project's id.
                """,
            scopes: ["projects:read"], inputSchema: JSONSchema.object([:]), annotations: .readOnly
        ) { _, connection in
            var projects: [Components.Schemas.Project] = []
            var cursor: String?
            repeat {
                switch try await connection.client.listProjects(query: .init(cursor: cursor, limit: 200)) {
                case .ok(let ok):
                    let page = try ok.body.json
                    projects += page.items
                    cursor = page.nextCursor
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            } while cursor != nil
            return try .json(projects, note: projects.isEmpty ? "No projects yet; create one with create_project." : nil)
        },
        ToolDefinition(
            name: "create_project",
            description: """
                Create a project: an app with a stable public URL (https://<slug>.<apps-domain>) that never \
                changes. A new project is private: its URL serves nothing until a person publishes it. Next: \
                create_server in it, deploy an app, then attach the server to the project.
                """,
            scopes: ["projects:write"],
            inputSchema: JSONSchema.object([
                "name": JSONSchema.string("A human-readable name.", maxLength: 100),
                "slug": JSONSchema.string("Optional DNS label for the URL, 3–40 characters of a–z, 0–9 and '-'; generated when absent.",
                                          maxLength: 40),
            ], required: ["name"]),
            annotations: .additive
        ) { arguments, connection in
            let body = Components.Schemas.ProjectCreate(name: try arguments.string("name"), slug: arguments.optionalString("slug"))
            switch try await connection.client.createProject(body: .json(body)) {
            case .created(let created): return try .json(try created.body.json, note: "Created (private until a person publishes it):")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
        ToolDefinition(
            name: "attach",
            description: """
                Put a server behind its project's URL, replacing the server there. The URL forwards requests to \
                the server's deployed app (see deploy) — but only while the project is public; while private it \
                answers as if it did not exist.
                """,
            scopes: ["projects:write"],
            inputSchema: JSONSchema.object([
                "project": projectReference,
                "server_id": JSONSchema.string("The server's id (srv_…) or project/name; it must belong to the project."),
            ], required: ["project", "server_id"]),
            annotations: .idempotent
        ) { arguments, connection in
            let project = try await References.projectID(try arguments.string("project"), connection)
            switch try await connection.client.attachServer(path: .init(projectId: project),
                                                            body: .json(.init(serverId: try await References.serverID(try arguments.string("server_id"), connection)))) {
            case .ok(let ok):
                let attached = try ok.body.json
                let note = attached.visibility == ._public
                    ? "Attached; \(attached.url) serves it."
                    : "Attached; \(attached.url) will serve it once a person makes the project public."
                return try .json(attached, note: note)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        },
    ]
}
