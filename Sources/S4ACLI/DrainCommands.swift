import ArgumentParser
import Foundation
import S4AClient
import S4AContract

/// `s4a drain create|list|delete`: a project's logs and activity streamed to an HTTPS endpoint.
struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain", abstract: "Log drains: stream a project's server logs and activity to an HTTPS endpoint.",
        discussion: """
        s4a drain create --project my-app https://logs.example.com/s4a   # prints the signing secret once
        Each POST is JSON Lines signed with X-S4A-Signature: sha256=HMAC(secret, "<X-S4A-Timestamp>.<body>").
        """,
        subcommands: [Create.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a drain. Its signing secret is printed once; store it now.")
        @OptionGroup var client: ClientOptions
        @Option(help: "The project (id or slug).") var project: String
        @Option(name: .customLong("kind"), help: "logs or activity (repeatable; default both).") var kinds: [String] = []
        @Argument(help: "The endpoint, an https:// URL.") var url: String

        func run() async throws {
            let kinds = try kinds.map { raw in
                guard let kind = Components.Schemas.LogDrainKind(rawValue: raw) else { throw ValidationError("--kind takes logs or activity.") }
                return kind
            }
            let body = Components.Schemas.LogDrainCreate(url: url, kinds: kinds.isEmpty ? nil : kinds)
            let created = try await withConnection(client) { connection in
                let id = try await ProjectCommand.id(project, connection)
                switch try await connection.client.createLogDrain(path: .init(projectId: id), body: .json(body)) {
                case .created(let created): return try created.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { return try Output.json(created) }
            print("Created drain \(created.drain.id) to \(created.drain.url) (\(created.drain.kinds.map(\.rawValue).joined(separator: ", "))).")
            print("Signing secret, shown only now:\n\(created.secret)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A project's drains with what they delivered and dropped.")
        @OptionGroup var client: ClientOptions
        @Option(help: "The project (id or slug).") var project: String

        func run() async throws {
            let drains = try await withConnection(client) { connection in
                let id = try await ProjectCommand.id(project, connection)
                switch try await connection.client.listLogDrains(path: .init(projectId: id)) {
                case .ok(let ok): return try ok.body.json.items
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { return try Output.json(drains) }
            Output.table(["id", "url", "kinds", "delivered", "dropped", "last success", "last error"], drains.map {
                [$0.id, $0.url, $0.kinds.map(\.rawValue).joined(separator: ","), String($0.delivered), String($0.dropped),
                 Output.date($0.lastSuccessAt), $0.lastError ?? ""]
            })
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a drain; delivery stops.", aliases: ["rm"])
        @OptionGroup var client: ClientOptions
        @Option(help: "The project (id or slug).") var project: String
        @Argument(help: "The drain's id (ldr_…).") var id: String

        func run() async throws {
            try await withConnection(client) { connection in
                let projectID = try await ProjectCommand.id(project, connection)
                switch try await connection.client.deleteLogDrain(path: .init(projectId: projectID, drainId: id)) {
                case .noContent: return
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(["deleted": id]) } else { print("Deleted drain \(id).") }
        }
    }
}
