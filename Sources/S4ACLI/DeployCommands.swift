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
    @Flag(help: "Answer at once instead of waiting (up to 30 s) for the app to answer on its port.") var noWait = false
    @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
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
                                                       restart: policy, wait: noWait ? false : nil)
        let deployed = try await withConnection(client) { connection in
            let progress = Progress.start("Deploying to \(server)", json: client.json)
            defer { progress.finish() }
            switch try await connection.client.deployServer(path: .init(serverId: try await References.serverID(server, connection)), body: .json(body)) {
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
    @Argument(help: "The server: its id (srv_…) or project/name.") var server: String

    func run() async throws {
        let json = client.json
        try await withConnection(client) { connection in
            let found = try await ProjectCommand.find(project, connection)
            switch try await connection.client.attachServer(path: .init(projectId: found.id), body: .json(.init(serverId: try await References.serverID(server, connection)))) {
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
        commandName: "open", abstract: "Print a project's URL (it answers only while the project is public and a server is attached).",
        discussion: "A private project's people can preview it: its preview link, opened where they are signed in to the dashboard, lets them in.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The project's id or slug.") var project: String

    func run() async throws {
        let json = client.json
        try await withConnection(client) { connection in
            let found = try await ProjectCommand.find(project, connection)
            let preview = found.url + "/.s4a/open"
            if json { return try Output.json(["url": found.url, "visibility": found.visibility.rawValue, "preview_url": preview]) }
            print(found.url)
            if found.visibility != ._public {
                FileHandle.standardError.write(Data("""
                    (private: it serves nothing until published; preview it at \(preview)
                     in a browser signed in to the dashboard)

                    """.utf8))
            }
        }
    }
}

/// `s4a uptime PROJECT`: availability and incidents of the project's apps.
struct UptimeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "uptime", abstract: "Show how a project's apps did: availability over 24 hours and 30 days, and incidents.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The project's id or slug.") var project: String

    func run() async throws {
        let json = client.json
        try await withConnection(client) { connection in
            let found = try await ProjectCommand.find(project, connection)
            switch try await connection.client.getProjectUptime(path: .init(projectId: found.id)) {
            case .ok(let ok):
                let uptime = try ok.body.json
                if json { return try Output.json(uptime) }
                func percent(_ value: Double?) -> String { value.map { String(format: "%.3f%%", $0 * 100) } ?? "no probes" }
                print("\(found.url): \(percent(uptime.availability24h)) over 24 hours (\(uptime.probes24h) probes), "
                      + "\(percent(uptime.availability30d)) over 30 days")
                guard !uptime.incidents.isEmpty else { return print("No incidents in 30 days.") }
                Output.table(["STARTED", "ENDED", "SERVER", "CRASHES", "REASON"], uptime.incidents.map {
                    [Output.date($0.startedAt), $0.endedAt.map { Output.date($0) } ?? "ongoing", $0.serverId, "\($0.crashes)", $0.reason]
                })
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
    }
}
