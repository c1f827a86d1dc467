import Foundation
import OpenAPIRuntime
import S4AContract
import S4ADomain
import S4AWeb
import ServiceLifecycle

extension APIHandler {
    func createServer(_ input: Operations.CreateServer.Input) async throws -> Operations.CreateServer.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let request = NewServer(
            projectID: body.projectId, name: body.name, template: body.template, cpuMillis: body.cpuMillis,
            memoryMB: body.memoryMb, diskMB: body.diskMb, budget: try Self.money(body.budgetUsd, field: "budget_usd"),
            network: body.network.flatMap { NetworkMode(rawValue: $0.rawValue) })
        let server = try await servers.create(try RequestScope.requirePrincipal(), request)
        return .created(.init(body: .json(Self.contract(server))))
    }

    func listServers(_ input: Operations.ListServers.Input) async throws -> Operations.ListServers.Output {
        let page = try await servers.list(try RequestScope.requirePrincipal(), projectID: input.query.projectId,
                                          cursor: input.query.cursor, limit: try Self.limit(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map { Self.contract($0) }, nextCursor: page.nextCursor))))
    }

    func getServer(_ input: Operations.GetServer.Input) async throws -> Operations.GetServer.Output {
        let server = try await servers.get(try RequestScope.requirePrincipal(), id: input.path.serverId)
        return .ok(.init(body: .json(Self.contract(server, deployment: try await servers.deployment(of: server)))))
    }

    func deployServer(_ input: Operations.DeployServer.Input) async throws -> Operations.DeployServer.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let (server, deployment) = try await servers.deploy(
            try RequestScope.requirePrincipal(), id: input.path.serverId,
            NewDeployment(command: body.command, port: body.port, healthPath: body.healthPath,
                          restart: body.restart.flatMap { RestartPolicy(rawValue: $0.rawValue) }, wait: body.wait ?? true))
        return .created(.init(body: .json(Self.contract(server, deployment: deployment))))
    }

    func stopServer(_ input: Operations.StopServer.Input) async throws -> Operations.StopServer.Output {
        .ok(.init(body: .json(Self.contract(try await servers.stop(try RequestScope.requirePrincipal(), id: input.path.serverId)))))
    }

    func startServer(_ input: Operations.StartServer.Input) async throws -> Operations.StartServer.Output {
        .ok(.init(body: .json(Self.contract(try await servers.start(try RequestScope.requirePrincipal(), id: input.path.serverId)))))
    }

    func updateServerBudget(_ input: Operations.UpdateServerBudget.Input) async throws -> Operations.UpdateServerBudget.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let server = try await servers.setBudget(try RequestScope.requirePrincipal(), id: input.path.serverId,
                                                 budget: try Self.money(body.budgetUsd, field: "budget_usd"))
        return .ok(.init(body: .json(Self.contract(server))))
    }

    func deleteServer(_ input: Operations.DeleteServer.Input) async throws -> Operations.DeleteServer.Output {
        try await servers.delete(try RequestScope.requirePrincipal(), id: input.path.serverId)
        return .noContent(.init())
    }

    func execInServer(_ input: Operations.ExecInServer.Input) async throws -> Operations.ExecInServer.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let argv: [String], display: String
        switch (body.command, body.argv) {
        case (let command?, nil):
            guard !command.isEmpty else { throw DomainError.invalid("command", "must not be empty") }
            argv = ["/bin/sh", "-c", command]
            display = command
        case (nil, let list?):
            guard !list.isEmpty, !list[0].isEmpty else { throw DomainError.invalid("argv", "must name a program") }
            argv = list
            display = list.joined(separator: " ")
        default:
            throw DomainError.invalid("command", "give either command or argv")
        }
        let timeout = body.timeoutS ?? 60
        guard (1...3600).contains(timeout) else { throw DomainError.invalid("timeout_s", "must be 1 to 3600") }
        if let cwd = body.cwd, !cwd.hasPrefix("/") { throw DomainError.invalid("cwd", "must be an absolute path") }
        let environment = body.env?.additionalProperties ?? [:]
        for name in environment.keys where !Self.isEnvironmentName(name) {
            throw DomainError.invalid("env", "\(name) is not a variable name")
        }
        let principal = try RequestScope.requirePrincipal()
        if body.background == true {
            guard body.stdin == nil, body.timeoutS == nil else {
                throw DomainError.invalid(body.stdin != nil ? "stdin" : "timeout_s", "does not apply to a background command")
            }
            let run = try await servers.execInBackground(principal, id: input.path.serverId, command: argv, display: display,
                                                         cwd: body.cwd, environment: environment)
            return .accepted(.init(body: .json(Self.contract(run, withOutput: false))))
        }
        let servers = self.servers, serverID = input.path.serverId, stdin = Array((body.stdin ?? "").utf8), cwd = body.cwd
        func execute(_ onOutput: (@Sendable (OutputStreamKind, [UInt8]) -> Void)?) async throws -> Run {
            try await servers.exec(principal, id: serverID, command: argv, display: display, cwd: cwd,
                                   environment: environment, stdin: stdin, timeout: .seconds(timeout), onOutput: onOutput)
        }
        // Stream only when asked for alone: typed clients accept both and want the JSON result.
        let accepted = input.headers.accept.map(\.contentType)
        guard accepted.contains(.textEventStream), !accepted.contains(.json) else {
            return .ok(.init(body: .json(Self.result(try await execute(nil)))))
        }
        // Streaming: the checks above have passed; the command runs to its end (and is
        // recorded) even if the client goes away.
        let (events, continuation) = AsyncStream.makeStream(of: ServerSentEvent.self)
        Task {
            do {
                let run = try await execute { stream, bytes in
                    continuation.yield(EventStream.event(stream.rawValue, String(decoding: bytes, as: UTF8.self)))
                }
                continuation.yield(EventStream.event("exit", Self.result(run)))
            } catch {
                continuation.yield(EventStream.event("error", ProblemResponse(error).body))
            }
            continuation.finish()
        }
        return .ok(.init(body: .textEventStream(EventStream.body(events))))
    }

    static func result(_ run: Run) -> Components.Schemas.ExecResult {
        .init(runId: run.id, exitCode: run.exitCode ?? -1, stdout: run.stdout, stderr: run.stderr, truncated: run.truncated,
              timedOut: run.state == .timedOut, durationMs: run.durationMilliseconds ?? 0,
              cpuMs: run.cpuMicros.map { Int($0 / 1000) },
              endedBy: run.endedBy.flatMap { .init(rawValue: $0.rawValue) } ?? .exit, hint: run.hint)
    }

    func listRuns(_ input: Operations.ListRuns.Input) async throws -> Operations.ListRuns.Output {
        let page = try await servers.runs(try RequestScope.requirePrincipal(), serverID: input.path.serverId,
                                          cursor: input.query.cursor, limit: try Self.limit(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map { Self.contract($0, withOutput: false) },
                                           nextCursor: page.nextCursor))))
    }

    func getRun(_ input: Operations.GetRun.Input) async throws -> Operations.GetRun.Output {
        let run = try await servers.run(try RequestScope.requirePrincipal(), serverID: input.path.serverId,
                                        runID: input.path.runId)
        return .ok(.init(body: .json(Self.contract(run, withOutput: true))))
    }

    func cancelRun(_ input: Operations.CancelRun.Input) async throws -> Operations.CancelRun.Output {
        let run = try await servers.cancelRun(try RequestScope.requirePrincipal(), serverID: input.path.serverId,
                                            runID: input.path.runId)
        return .ok(.init(body: .json(Self.contract(run, withOutput: true))))
    }

    /// Reached only when the WebSocket upgrade did not happen: says why.
    func getServerShell(_ input: Operations.GetServerShell.Input) async throws -> Operations.GetServerShell.Output {
        for (name, value) in [("cols", input.query.cols), ("rows", input.query.rows)] {
            if let value, !TerminalSize.range.contains(value) { throw DomainError.invalid(name, "must be 1 to 1000") }
        }
        _ = try await servers.checkShell(try RequestScope.requirePrincipal(), id: input.path.serverId)
        throw DomainError(.upgradeRequired, "Open the shell as a WebSocket (Connection: Upgrade, Upgrade: websocket).")
    }

    func getServerLogs(_ input: Operations.GetServerLogs.Input) async throws -> Operations.GetServerLogs.Output {
        let principal = try RequestScope.requirePrincipal()
        let query = LogQuery(since: input.query.since, until: input.query.until, text: input.query.q,
                             limit: input.query.limit ?? LogQuery.defaultLimit)
        guard input.query.follow == true else {
            let lines = try await servers.logs(principal, id: input.path.serverId, query: query)
            return .ok(.init(body: .json(.init(lines: lines.map(Self.contract)))))
        }
        guard query.until == nil else { throw DomainError.invalid("until", "does not go with follow") }
        let lines = try await servers.followLogs(principal, id: input.path.serverId, query: query)
        // A graceful shutdown ends the stream (else SIGTERM would wait for every follower to leave).
        let events = lines.map { EventStream.event("line", Self.contract($0)) }.cancelOnGracefulShutdown()
        return .ok(.init(body: .textEventStream(EventStream.body(events))))
    }

    static func contract(_ line: LogLine) -> Components.Schemas.LogLine {
        .init(time: line.time, stream: .init(rawValue: line.stream.rawValue) ?? .system, runId: line.process, text: line.text)
    }

    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.first, first == "_" || first.isLetter, name.count <= 128 else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    static func contract(_ server: Server, deployment: DeploymentStatus? = nil) -> Components.Schemas.Server {
        Components.Schemas.Server(
            id: server.id, projectId: server.projectID, name: server.name, template: server.template,
            cpuMillis: server.cpuMillis, memoryMb: server.memoryMB, diskMb: server.diskMB, budgetUsd: server.budget.decimal,
            network: .init(rawValue: server.network.rawValue) ?? .none, state: .init(rawValue: server.state.rawValue) ?? .failed,
            lastError: server.lastError, deployment: deployment.map(contract), createdAt: server.createdAt,
            updatedAt: server.updatedAt)
    }

    static func contract(_ status: DeploymentStatus) -> Components.Schemas.Deployment {
        let deployment = status.deployment
        let process: Components.Schemas.Deployment.ProcessStatePayload = switch status.process?.state {
        case nil: .notRunning
        case .starting?: .starting
        case .running?: .running
        case .backoff?: .backoff
        case .exited?: .exited
        }
        return .init(id: deployment.id, command: deployment.command, port: deployment.port, healthPath: deployment.healthPath,
                     restart: .init(rawValue: deployment.restart.rawValue) ?? .always,
                     state: .init(rawValue: status.state.rawValue) ?? .stopped, processState: process,
                     restarts: status.restarts, lastProbe: status.lastProbe.map {
                         .init(at: $0.at, healthy: $0.healthy, milliseconds: $0.milliseconds, detail: $0.detail)
                     }, lastExitCode: status.process?.exitCode.map(Int.init),
                     startedAt: status.process?.startedAt, createdAt: deployment.createdAt)
    }

    static func contract(_ run: Run, withOutput: Bool) -> Components.Schemas.Run {
        Components.Schemas.Run(
            id: run.id, serverId: run.serverID, kind: run.kind, command: run.command,
            state: .init(rawValue: run.state.rawValue) ?? .lost, exitCode: run.exitCode,
            stdout: withOutput ? run.stdout : nil, stderr: withOutput ? run.stderr : nil, truncated: run.truncated,
            durationMs: run.durationMilliseconds, cpuMs: run.cpuMicros.map { Int($0 / 1000) }, startedAt: run.startedAt,
            finishedAt: run.finishedAt, endedBy: run.endedBy.flatMap { .init(rawValue: $0.rawValue) }, hint: run.hint)
    }
}
