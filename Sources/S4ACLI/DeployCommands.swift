import ArgumentParser
import Foundation
import S4AClient
import S4AContract

/// `s4a deploy SERVER -- CMD…`: the server's app, supervised, with PORT set.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy", abstract: "Run a server's app: supervised, restarted by policy, with PORT set and the secrets injected.",
        discussion: "Example: s4a deploy srv_… --port 8080 -- python3 -m http.server 8080. Replaces the previous deployment.")

    @OptionGroup var client: ClientOptions
    @Option(help: "The port the app listens on, also given as $PORT (default 8080).") var port: Int?
    @Option(help: "A path probed over HTTP for health, e.g. /healthz (default: a TCP connect to the port).") var healthPath: String?
    @Option(help: "always (default), on-failure or never.") var restart: String?
    @Argument(help: "The server's id.") var server: String
    @Argument(parsing: .postTerminator, help: "The command, after --; run by sh -c.") var command: [String] = []

    func run() async throws {
        guard !command.isEmpty else { throw ValidationError("Give the command after --, e.g. s4a deploy \(server) -- ./serve") }
        var policy: Components.Schemas.DeploymentCreate.RestartPayload?
        if let restart {
            guard let value = Components.Schemas.DeploymentCreate.RestartPayload(rawValue: restart) else {
                throw ValidationError("--restart takes always, on-failure or never")
            }
            policy = value
        }
        // Words are joined for sh -c: quote as you would in a shell.
        let body = Components.Schemas.DeploymentCreate(command: command.joined(separator: " "), port: port, healthPath: healthPath,
                                                       restart: policy)
        let terminal = isatty(STDERR_FILENO) == 1 && !client.json
        if terminal { FileHandle.standardError.write(Data("Deploying to \(server)…\n".utf8)) }
        let deployed = try await withConnection(client) { connection in
            switch try await connection.client.deployServer(path: .init(serverId: server), body: .json(body)) {
            case .created(let created): return try created.body.json
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
        try ServerCommand.show([deployed], json: client.json, single: true)
    }
}

/// `s4a attach PROJECT SERVER`, `s4a detach PROJECT`: which server the project's URL serves.
struct AttachCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attach", abstract: "Put a server behind its project's URL (served only once the project is public).")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The project's id or slug.") var project: String
    @Argument(help: "The server's id.") var server: String

    func run() async throws {
        let json = client.json
        try await withConnection(client) { connection in
            let found = try await ProjectCommand.find(project, connection)
            switch try await connection.client.attachServer(path: .init(projectId: found.id), body: .json(.init(serverId: server))) {
            case .ok(let ok): try ProjectCommand.show(try ok.body.json, json: json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
    }
}

struct DetachCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detach", abstract: "Take the server away from its project's URL.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The project's id or slug.") var project: String

    func run() async throws {
        let json = client.json
        try await withConnection(client) { connection in
            let found = try await ProjectCommand.find(project, connection)
            switch try await connection.client.detachServer(path: .init(projectId: found.id)) {
            case .ok(let ok): try ProjectCommand.show(try ok.body.json, json: json)
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
    }
}

/// `s4a open PROJECT`: prints the project's URL.
struct OpenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open", abstract: "Print a project's URL (it answers only while the project is public and a server is attached).")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The project's id or slug.") var project: String

    func run() async throws {
        let json = client.json
        try await withConnection(client) { connection in
            let found = try await ProjectCommand.find(project, connection)
            if json { return try Output.json(["url": found.url, "visibility": found.visibility.rawValue]) }
            print(found.url)
            if found.visibility != ._public { FileHandle.standardError.write(Data("(private: it serves nothing until published)\n".utf8)) }
        }
    }
}
