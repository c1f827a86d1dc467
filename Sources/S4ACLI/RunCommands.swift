import ArgumentParser
import Foundation
import S4AClient
import S4AContract

/// `s4a runs SERVER`, `s4a run SERVER RUN`: what was run in a server, with its output.
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs", abstract: "List the commands run in a server (newest first), without their output.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
    @Option(help: "At most this many (default 50).") var limit: Int?

    func run() async throws {
        let json = client.json
        try await withConnection(client) { connection in
            switch try await connection.client.listRuns(path: .init(serverId: try await References.serverID(server, connection)), query: .init(limit: limit)) {
            case .ok(let ok):
                let runs = try ok.body.json.items
                if json { return try Output.json(runs) }
                Output.table(["ID", "KIND", "STATE", "EXIT", "CPU", "STARTED", "COMMAND"], runs.map {
                    [$0.id, $0.kind, $0.state.rawValue, $0.exitCode.map(String.init) ?? "", $0.cpuMs.map { "\($0) ms" } ?? "",
                     Output.date($0.startedAt), String($0.command.prefix(60))]
                })
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
    }
}

/// `s4a run SERVER RUN` shows a run; `s4a run stop SERVER RUN` ends a background one.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Show one run of a server with its output, or stop a background run.",
        subcommands: [Show.self, Stop.self], defaultSubcommand: Show.self)

    /// What both subcommands name: a run of a server.
    struct Target: ParsableArguments {
        @OptionGroup var client: ClientOptions
        @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
        @Argument(help: "The run's id (run_…).") var id: String
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one run of a server with its output (secrets masked).")
        @OptionGroup var target: Target

        func run() async throws {
            let target = self.target
            try await withConnection(target.client) { connection in
                switch try await connection.client.getRun(path: .init(serverId: try await References.serverID(target.server, connection), runId: target.id)) {
                case .ok(let ok): try RunCommand.print(try ok.body.json, json: target.client.json)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End a background run for good: it and what it started are killed, and it is not restarted.")
        @OptionGroup var target: Target

        func run() async throws {
            let target = self.target
            try await withConnection(target.client) { connection in
                switch try await connection.client.cancelRun(path: .init(serverId: try await References.serverID(target.server, connection), runId: target.id)) {
                case .ok(let ok): try RunCommand.print(try ok.body.json, json: target.client.json)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
        }
    }

    static func print(_ run: Components.Schemas.Run, json: Bool) throws {
        if json { return try Output.json(run) }
        Swift.print("\(run.id) \(run.kind) \(run.state.rawValue)" + (run.exitCode.map { ", exit \($0)" } ?? "")
                    + (run.durationMs.map { ", \($0) ms" } ?? "") + (run.cpuMs.map { ", \($0) ms CPU" } ?? ""))
        Swift.print("$ \(run.command)")
        if let out = run.stdout, !out.isEmpty { FileHandle.standardOutput.write(Data(out.utf8)) }
        if let err = run.stderr, !err.isEmpty { FileHandle.standardError.write(Data(err.utf8)) }
    }
}
