import Foundation

/// Commands in a server: to their end (exec) or in the background, their runs and cancelling them.
extension ServerService {
    /// Runs a command to its end and records it; `onOutput` sees the output as it comes.
    public func exec(_ principal: Principal, id: String, command: [String], display: String, cwd: String?,
                     environment: [String: String], stdin: [UInt8], timeout: Duration,
                     onOutput: (@Sendable (OutputStreamKind, [UInt8]) -> Void)? = nil) async throws -> Run {
        try principal.check(.scope(.serversExec))
        let server = try await runningServer(principal, id)
        var run = Run(id: RandomToken.id(.run), serverID: server.id, accountID: server.accountID, kind: Run.exec,
                      command: display, state: .running, exitCode: nil, stdout: "", stderr: "", truncated: false,
                      startedAt: env.now(), finishedAt: nil)
        let (processEnvironment, masker) = try await processEnvironment(server, environment)
        run.command = masker.mask(display)
        let started = run
        try await env.store.write { tx in try await tx.servers.insert(started) }
        // Streamed output is masked too; each stream holds back what could begin a secret.
        let maskers = [OutputStreamKind.stdout: StreamMasker(masker), .stderr: StreamMasker(masker)]
        var masked: (@Sendable (OutputStreamKind, [UInt8]) -> Void)?
        if let forward = onOutput {
            masked = { @Sendable kind, bytes in
                let shown = maskers[kind]!.feed(bytes)
                if !shown.isEmpty { forward(kind, shown) }
            }
        }
        let result: ExecResult
        do {
            // A key revoked (or a session ended) while the command runs kills it.
            let request = ExecRequest(argv: command, cwd: cwd ?? Server.home, env: processEnvironment, stdin: stdin, timeout: timeout,
                                      onOutput: masked)
            let runtime = self.runtime
            result = try await Authenticator(env: env).whileHolding(Authority(principal, .scope(.serversExec), serverID: server.id)) {
                try await runtime.exec(server.id, request)
            }
            if let onOutput {
                for (kind, streamMasker) in maskers {
                    let rest = streamMasker.finish()
                    if !rest.isEmpty { onOutput(kind, rest) }
                }
            }
        } catch {
            if let error = error as? DomainError, error.kind == .unauthenticated {
                try? await lose(run)
                throw error
            }
            // Refused: the server is not running (its budget ran out a moment ago, or it was
            // stopped). A command that never ran is no run; the server's state says why.
            if (try? await runtime.status(server.id)) != .running {
                let runID = run.id
                try? await env.store.write { tx in try await tx.servers.deleteRun(id: runID) }
                let ended = await recordBudgetStop(server)
                throw DomainError.failure(.serverNotRunning, ended ? "The server's budget is spent; the command did not run."
                                          : "The server is not running; the command did not run.", cause: error)
            }
            try? await lose(run)
            throw DomainError.failure(.serverNotRunning, "The command could not run.", cause: error)
        }
        run.state = result.timedOut ? .timedOut : .exited
        run.exitCode = Int(result.exitCode)
        run.stdout = String(decoding: masker.mask(bytes: result.stdout), as: UTF8.self)
        run.stderr = String(decoding: masker.mask(bytes: result.stderr), as: UTF8.self)
        run.truncated = result.truncated
        run.cpuMicros = result.cpuNanoseconds.map { Int64($0 / 1000) }
        run.finishedAt = env.now()
        if result.timedOut {
            run.endedBy = .timeout
            if let port = result.listeningPorts.first {
                run.hint = "It was still listening on port \(port) when its timeout killed it. Run servers with deploy "
                    + "(POST /v1/servers/\(server.id)/deploy, s4a deploy, MCP deploy) or as a background command "
                    + "(\"background\": true, s4a exec --background)."
            }
        } else if result.outOfMemory {
            run.endedBy = .oom
            run.hint = "The server ran out of memory (\(server.memoryMB) MB); give it more or make the command use less."
        } else if result.exitCode >= 128 {
            // Killed by a signal: the watchdog's, when the server's budget ran out meanwhile.
            run.endedBy = await recordBudgetStop(server) ? .budget : .signal
            if run.endedBy == .budget { run.hint = "The server's budget is spent; raise it to start the server again." }
        } else {
            run.endedBy = .exit
        }
        let finished = run
        try await env.store.write { tx in try await tx.servers.update(finished) }
        return finished
    }

    private func lose(_ run: Run) async throws {
        var lost = run
        lost.state = .lost
        lost.finishedAt = env.now()
        let record = lost
        try await env.store.write { tx in try await tx.servers.update(record) }
    }

    /// If the server's watchdog stopped it at its deadline, records that now (the server reads
    /// `exhausted` at once, not after the next metering round). True if its lease ran out.
    func recordBudgetStop(_ server: Server) async -> Bool {
        guard (try? await runtime.leaseExpired(server.id)) ?? nil != nil else { return false }
        try? await locks.withLock(server.id) {
            // The metering round may have recorded it first: then the lease note is gone.
            guard let current = try await env.store.read({ tx in try await tx.servers.server(id: server.id, accountID: server.accountID) }),
                  current.state == .running else { return }
            _ = try await endIfLeaseRanOut(current, budgets)
        }
        return true
    }

    /// Starts a command under the server's supervisor and returns at once: it outlives the
    /// request (and the control plane), its output goes to the server's logs, and its run
    /// record learns how it ended when next read.
    public func execInBackground(_ principal: Principal, id: String, command: [String], display: String, cwd: String?,
                                 environment: [String: String]) async throws -> Run {
        try principal.check(.scope(.serversExec))
        let server = try await runningServer(principal, id)
        let (processEnvironment, masker) = try await processEnvironment(server, environment)
        let run = Run(id: RandomToken.id(.run), serverID: server.id, accountID: server.accountID, kind: Run.background,
                      command: masker.mask(display), state: .running, exitCode: nil, stdout: "", stderr: "", truncated: false,
                      startedAt: env.now(), finishedAt: nil)
        try await env.store.write { tx in try await tx.servers.insert(run) }
        do {
            try await runtime.spawn(server.id, ProcessRequest(name: run.id, argv: command, cwd: cwd ?? Server.home,
                                                              env: processEnvironment, masked: masker.values))
        } catch {
            var lost = run
            lost.state = .lost
            lost.finishedAt = env.now()
            let record = lost
            try? await env.store.write { tx in try await tx.servers.update(record) }
            if let error = error as? TooManyProcesses {
                throw DomainError(.conflict, "This server runs \(error.limit) background processes, the most it may; "
                                  + "stop one first (POST /v1/servers/\(server.id)/runs/RUN_ID/cancel, or s4a run stop \(server.id) RUN_ID).")
            }
            throw DomainError.failure(.serverNotRunning, "The command could not start.", cause: error)
        }
        return run
    }

    /// Ends a background run for good (it is not restarted) and returns it as it ended.
    public func cancelRun(_ principal: Principal, serverID: String, runID: String) async throws -> Run {
        try principal.check(.scope(.serversExec))
        let (server, run) = try await env.store.read { tx in
            let server = try await tx.reachableServer(serverID, by: principal)
            guard let run = try await tx.servers.run(id: runID, serverID: serverID) else { throw DomainError.notFound }
            return (server, run)
        }
        guard run.kind == Run.background, run.state == .running else { return run }
        do {
            try await runtime.endProcess(run.serverID, name: run.id)
        } catch {
            throw DomainError.failure(.serverNotRunning, "The run could not be stopped.", cause: error)
        }
        let ended = try await refreshed(run, endedBy: .cancelled)
        try await env.store.write { tx in
            try await tx.activity.append(ActivityRecord(action: Action.runCancelled, actor: principal.actor,
                                               target: Target(type: "run", id: run.id), projectID: server.projectID,
                                               metadata: ["server_id": run.serverID, "command": run.command]),
                                accountID: run.accountID, at: env.now())
        }
        return ended
    }

    /// A background run as its supervisor last reported it (saved once it has ended).
    func refreshed(_ run: Run, endedBy: Run.Ending? = nil) async throws -> Run {
        guard run.kind == Run.background, run.state == .running else { return run }
        switch try? await runtime.processStatus(run.serverID, name: run.id) {
        case nil: return try await finish(run, exitCode: nil, endedBy: endedBy)  // no record: its outcome is unknown
        case let status? where status.state == .exited:
            return try await finish(run, exitCode: status.exitCode, at: status.finishedAt,
                                    cpuMicros: status.cpuNanoseconds.map { Int64($0 / 1000) }, endedBy: endedBy)
        case _?: return run
        }
    }

    /// Records how a run that was not waited for ended (nil: unknown, so lost).
    func finish(_ run: Run, exitCode: Int32?, at time: Date? = nil, cpuMicros: Int64? = nil, endedBy: Run.Ending? = nil)
        async throws -> Run {
        var ended = run
        ended.cpuMicros = cpuMicros
        ended.state = exitCode == nil ? .lost : .exited
        ended.endedBy = endedBy ?? exitCode.map { $0 >= 128 ? .signal : .exit }
        ended.exitCode = exitCode.map(Int.init)
        ended.finishedAt = time ?? env.now()
        let record = ended
        try await env.store.write { tx in try await tx.servers.update(record) }
        return ended
    }

    /// Exec for the platform's own tools (files): checked like exec, not recorded as a run.
    func execRaw(_ principal: Principal, id: String, request: ExecRequest) async throws -> ExecResult {
        let server = try await runningServer(principal, id)
        do {
            return try await runtime.exec(server.id, request)
        } catch {
            throw DomainError.failure(.serverNotRunning, "The server could not be reached.", cause: error)
        }
    }

    public func runs(_ principal: Principal, serverID: String, cursor: String?, limit: Int) async throws -> Page<Run> {
        try principal.check(.scope(.serversRead))
        let page = try await env.store.read { tx in
            _ = try await tx.reachableServer(serverID, by: principal)
            return try await tx.servers.runs(serverID: serverID, cursor: cursor, limit: limit)
        }
        var refreshed = page
        for index in refreshed.items.indices { refreshed.items[index] = try await self.refreshed(refreshed.items[index]) }
        return refreshed
    }

    public func run(_ principal: Principal, serverID: String, runID: String) async throws -> Run {
        try principal.check(.scope(.serversRead))
        let run = try await env.store.read { tx in
            _ = try await tx.reachableServer(serverID, by: principal)
            guard let run = try await tx.servers.run(id: runID, serverID: serverID) else { throw DomainError.notFound }
            return run
        }
        return try await refreshed(run)
    }
}
