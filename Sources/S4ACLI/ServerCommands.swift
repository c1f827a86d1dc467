import ArgumentParser
import Foundation
import S4AClient
import S4AContract

struct ServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Servers: isolated Linux environments with hard limits and their own disk.",
        subcommands: [Create.self, List.self, Show.self, Stop.self, Start.self, Budget.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a server in a project and start it.")
        @OptionGroup var client: ClientOptions
        @Option(help: "The project's id or slug.") var project: String
        @Option(help: "A name for the server.") var name: String
        @Option(help: "Budget cap in USD, e.g. 5.00 (required).") var budgetUsd: String
        @Option(help: "Template (default base).") var template: String?
        @Option(help: "CPU in thousandths of a core, 100–4000 (default 1000).") var cpuMillis: Int?
        @Option(help: "Memory in MiB, 64–8192 (default 512).") var memoryMb: Int?
        @Option(help: "Disk in MiB, 64–16384 (default 1024).") var diskMb: Int?

        func run() async throws {
            let server = try await withConnection(client) { connection in
                let projectID = try await ProjectCommand.find(project, connection).id
                let progress = Progress.start("Creating server \(name)", json: client.json)
                defer { progress.finish() }
                let body = Components.Schemas.ServerCreate(
                    projectId: projectID, name: name, template: template, cpuMillis: cpuMillis, memoryMb: memoryMb,
                    diskMb: diskMb, budgetUsd: .Money(budgetUsd))
                switch try await connection.client.createServer(body: .json(body)) {
                case .created(let created): return try created.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            try ServerCommand.show([server], json: client.json, single: true)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List servers.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Only this project's servers (id or slug).") var project: String?

        func run() async throws {
            let json = client.json
            let (servers, slugs) = try await withConnection(client) { connection in
                let projectID = try await project.asyncMap { try await ProjectCommand.find($0, connection).id }
                // Slugs to show beside each server; a key that cannot read projects sees their ids.
                let slugs = json ? [:] : Dictionary((try? await ProjectCommand.all(connection))?.map { ($0.id, $0.slug) } ?? [],
                                                    uniquingKeysWith: { first, _ in first })
                return (try await Pages.collect { cursor in
                    switch try await connection.client.listServers(query: .init(projectId: projectID, cursor: cursor, limit: 200)) {
                    case .ok(let ok):
                        let page = try ok.body.json
                        return (page.items, page.nextCursor)
                    case .default(let status, let problem): throw APIProblem(status: status, problem)
                    }
                }, slugs)
            }
            try ServerCommand.show(servers, json: json, single: false, projects: slugs)
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one server.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String

        func run() async throws {
            let found = try await withConnection(client) { connection in
                switch try await connection.client.getServer(path: .init(serverId: try await References.serverID(server, connection))) {
                case .ok(let ok): return try ok.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            try ServerCommand.show([found], json: client.json, single: true)
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop every process; the disk is kept.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String

        func run() async throws {
            let result = try await withConnection(client) { connection in
                switch try await connection.client.stopServer(path: .init(serverId: try await References.serverID(server, connection))) {
                case .ok(let ok): return try ok.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            try ServerCommand.show([result], json: client.json, single: true)
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a stopped or failed server.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String

        func run() async throws {
            let result = try await withConnection(client) { connection in
                let progress = Progress.start("Starting \(server)", json: client.json)
                defer { progress.finish() }
                switch try await connection.client.startServer(path: .init(serverId: try await References.serverID(server, connection))) {
                case .ok(let ok): return try ok.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            try ServerCommand.show([result], json: client.json, single: true)
        }
    }

    struct Budget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a server's budget cap in USD (needs budget:write; an exhausted server then needs `server start`).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
        @Argument(help: "The new cap in US dollars, e.g. 10 or 2.50.") var amount: String

        func run() async throws {
            let result = try await withConnection(client) { connection in
                switch try await connection.client.updateServerBudget(path: .init(serverId: try await References.serverID(server, connection)),
                                                                      body: .json(.init(budgetUsd: .Money(amount)))) {
                case .ok(let ok): return try ok.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            try ServerCommand.show([result], json: client.json, single: true)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Destroy a server and its disk.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String

        func run() async throws {
            try await withConnection(client) { connection in
                switch try await connection.client.deleteServer(path: .init(serverId: try await References.serverID(server, connection))) {
                case .noContent: return
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(["deleted": server]) } else { print("Deleted \(server).") }
        }
    }

    /// `projects`: slugs by project id, shown instead of the ids when known.
    static func show(_ servers: [Components.Schemas.Server], json: Bool, single: Bool, projects: [String: String] = [:]) throws {
        if json { return single ? try Output.json(servers[0]) : try Output.json(servers) }
        Output.table(["id", "project", "name", "state", "cpu", "memory", "disk", "budget"], servers.map {
            [$0.id, projects[$0.projectId] ?? $0.projectId, $0.name, $0.state.rawValue, "\($0.cpuMillis)m", "\($0.memoryMb) MiB",
             "\($0.diskMb) MiB", "$\($0.budgetUsd)"]
        })
        if single, let error = servers[0].lastError { print("last error: \(error)") }
        if single, let deployment = servers[0].deployment {
            var line = "app: \(deployment.state.rawValue) on port \(deployment.port), restart \(deployment.restart.rawValue), "
                + "\(deployment.restarts) restarts"
            if let code = deployment.lastExitCode { line += ", last exit \(code)" }
            print(line + " — \(deployment.command)")
            if let probe = deployment.lastProbe, !probe.healthy { print("last probe: \(probe.detail)") }
        }
    }
}

/// `s4a exec SERVER -- CMD…`: runs a command and exits with its exit code.
struct ExecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command in a server; its output and exit code become this command's.",
        discussion: "Example: s4a exec srv_… -- python3 -c 'print(42)'. Standard input is passed along when it is not a terminal.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Working directory inside the server.") var cwd: String?
    @Option(name: .customLong("env"), help: "NAME=value (repeatable).") var environment: [String] = []
    @Option(help: "Seconds before the command's whole process tree is killed (default 60).") var timeout: Int?
    @Flag(help: "Leave it running in the server (see `s4a logs`); prints its run id.") var background = false
    @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    func run() async throws {
        let argv = command
        guard !argv.isEmpty else { throw ValidationError("Give the command after --, e.g. s4a exec \(server) -- ls /") }
        var env: [String: String] = [:]
        for pair in environment {
            guard let equals = pair.firstIndex(of: "=") else { throw ValidationError("--env takes NAME=value") }
            env[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        let environment: Components.Schemas.ExecRequest.EnvPayload? = env.isEmpty ? nil : .init(additionalProperties: env)
        if background {
            guard timeout == nil else { throw ValidationError("--timeout does not apply to --background") }
            let body = Components.Schemas.ExecRequest(argv: argv, cwd: cwd, env: environment, background: true)
            let run = try await withConnection(client) { connection in
                switch try await connection.client.execInServer(path: .init(serverId: try await References.serverID(server, connection)), body: .json(body)) {
                case .accepted(let accepted): return try accepted.body.json
                case .ok: throw CommandFailure(message: "the API ran the command in the foreground")
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(run) } else { print("Running in the background as \(run.id); see s4a logs \(server)") }
            return
        }
        let stdin: String? = isatty(STDIN_FILENO) == 1 ? nil
            : String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let body = Components.Schemas.ExecRequest(argv: argv, cwd: cwd, env: environment, stdin: stdin, timeoutS: timeout)
        let result = try await withConnection(client) { connection in
            switch try await connection.client.execInServer(path: .init(serverId: try await References.serverID(server, connection)), body: .json(body)) {
            case .ok(let ok): return try ok.body.json
            case .accepted: throw CommandFailure(message: "the API left the command running in the background")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
        if client.json {
            try Output.json(result)
        } else {
            FileHandle.standardOutput.write(Data(result.stdout.utf8))
            FileHandle.standardError.write(Data(result.stderr.utf8))
            if result.truncated { Output.error("output was cut at 1 MiB per stream") }
            switch result.endedBy {
            case .timeout: Output.error("timed out; the command's processes were killed")
            case .oom: Output.error("killed: the server ran out of memory")
            case .budget: Output.error("killed: the server's budget is spent")
            case .signal: Output.error("killed by signal \(result.exitCode - 128)")
            case .exit, .cancelled: break
            }
            if let hint = result.hint { Output.error(hint) }
        }
        if result.exitCode != 0 {
            throw CommandFailure(message: "", code: Int32(truncatingIfNeeded: result.exitCode), silent: true)
        }
    }
}

/// A spinner line on a terminal for long operations; nothing when output is piped or JSON.
final class Progress: @unchecked Sendable {
    private var task: Task<Void, Never>?

    static func start(_ message: String, json: Bool) -> Progress {
        let progress = Progress()
        guard !json, isatty(STDERR_FILENO) == 1 else { return progress }
        progress.task = Task {
            let frames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]
            var index = 0
            while !Task.isCancelled {
                FileHandle.standardError.write(Data("\r\(frames[index % frames.count]) \(message)…".utf8))
                index += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
        return progress
    }

    func finish() { task?.cancel() }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
