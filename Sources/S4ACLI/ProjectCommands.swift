import ArgumentParser
import Foundation
import S4AClient
import S4AContract

struct ProjectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "project", abstract: "Projects: each has a stable URL that serves nothing until published.",
        subcommands: [Create.self, List.self, Show.self, Publish.self, Unpublish.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a private project.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The project's name.") var name: String
        @Option(help: "Its slug (3–40 of a-z, 0-9, '-'); generated when absent. Fixed for life.") var slug: String?

        func run() async throws {
            let project = try await withConnection(client) { connection in
                switch try await connection.client.createProject(body: .json(.init(name: name, slug: slug))) {
                case .created(let created): return try created.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            try ProjectCommand.show(project, json: client.json)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List projects.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let projects = try await withConnection(client) { connection in
                try await ProjectCommand.all(connection)
            }
            if client.json { return try Output.json(projects) }
            Output.table(["id", "name", "visibility", "url"], projects.map {
                [$0.id, $0.name, $0.visibility.rawValue, $0.url]
            })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one project.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The project's id or slug.") var project: String

        func run() async throws {
            let found = try await withConnection(client) { connection in
                try await ProjectCommand.find(project, connection)
            }
            try ProjectCommand.show(found, json: client.json)
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a project's URL serve its attached server (needs projects:publish).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The project's id or slug.") var project: String

        func run() async throws { try await ProjectCommand.setVisibility(project, ._public, client) }
    }

    struct Unpublish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a project private again; its URL stays the same.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The project's id or slug.") var project: String

        func run() async throws { try await ProjectCommand.setVisibility(project, ._private, client) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a project.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The project's id or slug.") var project: String

        func run() async throws {
            let id = try await withConnection(client) { connection in
                let found = try await ProjectCommand.find(project, connection)
                switch try await connection.client.deleteProject(path: .init(projectId: found.id)) {
                case .noContent: return found.id
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(["deleted": id]) } else { print("Deleted \(id).") }
        }
    }

    static func setVisibility(_ reference: String, _ visibility: Components.Schemas.Visibility,
                              _ client: ClientOptions) async throws {
        let project = try await withConnection(client) { connection in
            let found = try await find(reference, connection)
            switch try await connection.client.updateProject(path: .init(projectId: found.id),
                                                             body: .json(.init(visibility: visibility))) {
            case .ok(let ok): return try ok.body.json
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
        try show(project, json: client.json)
    }

    static func all(_ connection: APIConnection) async throws -> [Components.Schemas.Project] {
        try await Pages.collect { cursor in
            switch try await connection.client.listProjects(query: .init(cursor: cursor, limit: 200)) {
            case .ok(let ok):
                let page = try ok.body.json
                return (page.items, page.nextCursor)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
    }

    /// By id (`prj_…`) directly, else by slug among the caller's projects.
    /// An id as given (no lookup, so a key needs no projects:read), else the slug's project.
    static func id(_ reference: String, _ connection: APIConnection) async throws -> String {
        try await References.projectID(reference, connection)
    }

    static func find(_ reference: String, _ connection: APIConnection) async throws -> Components.Schemas.Project {
        if reference.hasPrefix("prj_") {
            switch try await connection.client.getProject(path: .init(projectId: reference)) {
            case .ok(let ok): return try ok.body.json
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
        guard let project = try await all(connection).first(where: { $0.slug == reference }) else {
            throw CommandFailure(message: "No project \(reference).")
        }
        return project
    }

    static func show(_ project: Components.Schemas.Project, json: Bool) throws {
        if json { return try Output.json(project) }
        Output.table(["id", "name", "slug", "visibility", "url"],
                     [[project.id, project.name, project.slug, project.visibility.rawValue, project.url]])
    }
}
