import Foundation

public struct NewServer: Sendable {
    public var projectID: String
    public var name: String
    public var template: String?
    public var cpuMillis: Int?
    public var memoryMB: Int?
    public var diskMB: Int?
    public var budget: MicroDollars
    public var network: NetworkMode?

    public init(projectID: String, name: String, template: String? = nil, cpuMillis: Int? = nil, memoryMB: Int? = nil,
                diskMB: Int? = nil, budget: MicroDollars, network: NetworkMode? = nil) {
        self.projectID = projectID
        self.name = name
        self.template = template
        self.cpuMillis = cpuMillis
        self.memoryMB = memoryMB
        self.diskMB = diskMB
        self.budget = budget
        self.network = network
    }
}

/// Servers: created and started through the runtime, each lifecycle change recorded.
/// Changes to one server are serialised; different servers proceed in parallel.
public struct ServerService: Sendable {
    let env: DomainEnvironment
    let runtime: any ContainerRuntime
    let locks: KeyedLock
    /// Where the processes' secrets come from; nil: none (unit tests without a vault).
    let secrets: SecretService?
    /// Leases and the ledger; nil: servers run unmetered (unit tests only).
    let budgets: BudgetService?

    public init(env: DomainEnvironment, runtime: any ContainerRuntime, secrets: SecretService? = nil,
                budgets: BudgetService? = nil, locks: KeyedLock = KeyedLock()) {
        self.env = env
        self.runtime = runtime
        self.secrets = secrets
        self.budgets = budgets
        self.locks = locks
    }

    /// A process's environment: the project's secrets, the server's over them, the request's
    /// own over both; and the masker for the secret values it received.
    func processEnvironment(_ server: Server, _ requested: [String: String]) async throws -> ([String: String], SecretMasker) {
        let injected = try await secrets?.environment(for: server) ?? [:]
        return (injected.merging(requested) { $1 }, SecretMasker(injected.values))
    }

    public func create(_ principal: Principal, _ request: NewServer) async throws -> Server {
        try principal.check(.scope(.serversWrite))
        let name = request.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(name.count) else { throw DomainError.invalid("name", "must be 1 to 100 characters") }
        let cpu = request.cpuMillis ?? ServerLimits.defaultCPUMillis
        let memory = request.memoryMB ?? ServerLimits.defaultMemoryMB
        let disk = request.diskMB ?? ServerLimits.defaultDiskMB
        let template = request.template ?? "base"
        let network = request.network ?? .none
        guard ServerLimits.cpuMillis.contains(cpu) else { throw DomainError.unprocessable("cpu_millis", "must be 100 to 4000") }
        guard ServerLimits.memoryMB.contains(memory) else { throw DomainError.unprocessable("memory_mb", "must be 64 to 8192") }
        guard ServerLimits.diskMB.contains(disk) else { throw DomainError.unprocessable("disk_mb", "must be 64 to 16384") }
        guard request.budget.value > 0 else { throw DomainError.unprocessable("budget_usd", "must be more than zero") }
        if let ceiling = principal.apiKey?.maxServerBudget, request.budget > ceiling {
            throw DomainError(.forbidden, "This key may set budgets up to \(ceiling.decimal) USD.")
        }
        if !principal.scopes.contains(.budgetWrite), request.budget > ServerLimits.budgetWithoutScope {
            throw DomainError(.insufficientScope, "Budgets over \(ServerLimits.budgetWithoutScope.decimal) USD need the budget:write scope.")
        }
        guard try await runtime.templates().contains(template) else {
            throw DomainError.unprocessable("template", "is not a template here (try base)")
        }
        let now = env.now()
        let server = try await env.store.write { tx -> Server in
            try await tx.lockAccount(id: principal.accountID)
            _ = try await tx.reachableProject(request.projectID, by: principal)
            try await Self.checkSpendingLimit(tx, accountID: principal.accountID, adding: request.budget)
            try await Self.checkKeyBounds(tx, principal, adding: request.budget, servers: 1)
            let slot = try await tx.freeUIDSlot()
            guard slot < ServerLimits.maxSlots else { throw DomainError(.conflict, "This platform has no room for more servers.") }
            let server = Server(id: RandomToken.id(.server), projectID: request.projectID, accountID: principal.accountID,
                                name: name, template: template, cpuMillis: cpu, memoryMB: memory, diskMB: disk,
                                pidsLimit: ServerLimits.defaultPids, budget: request.budget, network: network,
                                state: .creating, uidSlot: slot, createdAt: now, updatedAt: now, createdByKeyID: principal.apiKey?.id)
            try await tx.insert(server)
            try await tx.append(
                ActivityRecord(action: Action.serverCreated, actor: principal.actor, target: Target(type: "server", id: server.id),
                               projectID: server.projectID,
                               metadata: ["name": name, "template": template, "cpu_millis": "\(cpu)", "memory_mb": "\(memory)",
                                          "disk_mb": "\(disk)", "budget_usd": request.budget.decimal]),
                accountID: principal.accountID, at: now)
            return server
        }
        return try await locks.withLock(server.id) {
            do {
                try await runtime.prepare(ContainerSpec(server: server))
            } catch {
                return try await fail(server, because: error, actor: principal.actor)
            }
            return try await bringUp(server, actor: principal.actor)
        }
    }

    public func get(_ principal: Principal, id: String) async throws -> Server {
        try principal.check(.scope(.serversRead))
        return try await env.store.read { tx in try await tx.reachableServer(id, by: principal) }
    }

    public func list(_ principal: Principal, projectID: String?, cursor: String?, limit: Int) async throws -> Page<Server> {
        try principal.check(.scope(.serversRead))
        let filter = try principal.projects(narrowedTo: projectID)
        return try await env.store.read { tx in
            try await tx.servers(accountID: principal.accountID, projectIDs: filter, cursor: cursor, limit: limit)
        }
    }

    public func start(_ principal: Principal, id: String) async throws -> Server {
        try principal.check(.scope(.serversWrite))
        return try await locks.withLock(id) {
            let server = try await env.store.read { tx in try await tx.reachableServer(id, by: principal) }
            guard server.state != .running else { return server }
            guard server.state.canMove(to: .running) else {
                throw DomainError(.conflict, "A \(server.state.rawValue) server cannot be started.")
            }
            return try await bringUp(server, actor: principal.actor)
        }
    }

    public func stop(_ principal: Principal, id: String) async throws -> Server {
        try principal.check(.scope(.serversWrite))
        return try await locks.withLock(id) {
            let server = try await env.store.read { tx in try await tx.reachableServer(id, by: principal) }
            guard server.state == .running else { return server }
            let egress = await budgets?.egressCounter(server)
            try await runtime.stop(server.id)
            try await budgets?.settle(server, egressCounter: egress)
            return try await transition(server, to: .stopped, action: Action.serverStopped, actor: principal.actor)
        }
    }

    /// Sets the budget cap: within the key's ceiling, and never below what is already spent
    /// (money spent is not given back by lowering the cap). A running server's lease is
    /// re-planned under the new cap and its keeper told before the change commits.
    public func setBudget(_ principal: Principal, id: String, budget: MicroDollars) async throws -> Server {
        try principal.check(.scope(.budgetWrite))
        guard budget.value > 0 else { throw DomainError.unprocessable("budget_usd", "must be more than zero") }
        if let ceiling = principal.apiKey?.maxServerBudget, budget > ceiling {
            throw DomainError(.forbidden, "This key may set budgets up to \(ceiling.decimal) USD.")
        }
        return try await locks.withLock(id) {
            let now = env.now()
            return try await env.store.write { tx in
                try await tx.lockAccount(id: principal.accountID)
                var server = try await tx.reachableServer(id, by: principal)
                let running = server.state == .running ? budgets : nil
                // A running server's lease holds the rest of its cap: what it used so far is
                // charged first, so that the floor is what is really spent.
                let balance: LedgerBalance
                if let running {
                    balance = try await running.settleNow(tx, server)
                } else {
                    balance = try await tx.ledgerBalance(serverID: server.id)
                }
                let committed = MicroDollars(balance.charged.value + balance.reserved.value)
                guard budget >= committed else {
                    throw DomainError.unprocessable("budget_usd", "must be at least \(committed.decimal), already charged and reserved")
                }
                let previous = server.budget
                if budget > previous {
                    let raise = MicroDollars(budget.value - previous.value)
                    try await Self.checkSpendingLimit(tx, accountID: principal.accountID, adding: raise)
                    try await Self.checkKeyBounds(tx, principal, adding: raise, servers: 0, raising: server)
                }
                server.budget = budget
                server.updatedAt = now
                try await tx.update(server)
                try await running?.replan(tx, server)
                try await tx.append(
                    ActivityRecord(action: Action.serverBudgetChanged, actor: principal.actor,
                                   target: Target(type: "server", id: server.id), projectID: server.projectID,
                                   metadata: ["from": previous.decimal, "to": budget.decimal]),
                    accountID: principal.accountID, at: now)
                return server
            }
        }
    }

    /// Sets (or with nil removes) what all the account's servers together may ever spend. A
    /// limit below what is already committed needs `confirmed` (it says what it will stop): it
    /// stops new caps and raises, and each running server's lease is re-planned under it, its
    /// keeper told before the change commits.
    public func setSpendingLimit(_ principal: Principal, _ limit: MicroDollars?, confirmed: Bool = false) async throws -> Account {
        try principal.check(.session)
        // The running servers' locks, taken in one order (no deadlock with another change of the
        // limit), so that no metering round or start hands a keeper a deadline from the old
        // limit after this one. A server started meanwhile means another try with its lock too.
        for _ in 0..<5 {
            let running = try await env.store.read { tx in try await tx.liveServers(accountID: principal.accountID) }
                .filter { $0.state == .running }.map(\.id).sorted()
            if let account = try await locks.withLocks(running, {
                try await applySpendingLimit(principal, limit, confirmed: confirmed, holding: Set(running))
            }) {
                return account
            }
        }
        throw DomainError(.conflict, "Servers kept starting while the limit changed; try again.")
    }

    /// nil when a running server's lock is not among `held` (it started since they were taken).
    private func applySpendingLimit(_ principal: Principal, _ limit: MicroDollars?, confirmed: Bool,
                                    holding held: Set<String>) async throws -> Account? {
        let now = env.now()
        let budgets = self.budgets
        return try await env.store.write { tx -> Account? in
            try await tx.lockAccount(id: principal.accountID)
            guard var account = try await tx.account(id: principal.accountID) else { throw DomainError.unauthenticated }
            let running = try await tx.liveServers(accountID: account.id).filter { $0.state == .running }
            guard running.allSatisfy({ held.contains($0.id) }) else { return nil }
            if let limit, !confirmed {
                let committed = try await tx.committedBudget(accountID: account.id)
                if limit < committed {
                    let charged = try await tx.ledgerBalance(accountID: account.id).charged
                    let servers = running.count == 1 ? "1 running server" : "\(running.count) running servers"
                    let effect = running.isEmpty ? "No server runs now."
                        : limit <= charged ? "It stops \(servers) now: the account has already spent \(charged.decimal) USD."
                        : "It stops no server now; \(servers) stop once the account's spending reaches it "
                            + "(\(charged.decimal) USD spent so far)."
                    throw DomainError(.confirmationRequired, "A spending limit of \(limit.decimal) USD is below the \(committed.decimal) USD "
                                      + "your servers may spend (their caps plus what deleted servers were charged). \(effect) "
                                      + "Send confirm: true (s4a account limit --yes) to set it.")
                }
            }
            let previous = account.spendingLimit
            account.spendingLimit = limit
            try await tx.setSpendingLimit(accountID: account.id, limit: limit)
            for server in running { try await budgets?.replan(tx, server) }
            try await tx.append(
                ActivityRecord(action: Action.accountSpendingLimitChanged, actor: principal.actor,
                               target: Target(type: "account", id: account.id),
                               metadata: ["from": previous?.decimal ?? "none", "to": limit?.decimal ?? "none"]),
                accountID: account.id, at: now)
            return account
        }
    }

    /// Throws unless the account's spending limit (if any) leaves room for `adding` more in caps.
    /// Call with the account locked, so that concurrent creates and raises take turns.
    static func checkSpendingLimit(_ tx: any StoreTransaction, accountID: String, adding: MicroDollars) async throws {
        guard let limit = try await tx.account(id: accountID)?.spendingLimit else { return }
        let committed = try await tx.committedBudget(accountID: accountID)
        guard committed.value + adding.value <= limit.value else {
            let room = MicroDollars(max(0, limit.value - committed.value))
            throw DomainError.unprocessable("budget_usd", "passes the account's spending limit of \(limit.decimal) USD "
                                            + "(\(room.decimal) USD left for caps)")
        }
    }

    /// Throws unless every bounded key from the caller's up to the first one made by a person
    /// leaves room for `adding` more in caps and `servers` more servers: a key's total covers
    /// what the keys it made create. A bounded key may raise only the caps of servers its own
    /// tree created (others' caps are outside its total). Call with the account locked.
    static func checkKeyBounds(_ tx: any StoreTransaction, _ principal: Principal, adding: MicroDollars, servers: Int,
                               raising server: Server? = nil) async throws {
        // The keys whose trees hold the raised server: its creator and the keys above it.
        var holders: Set<String> = []
        var up = server?.createdByKeyID
        while let id = up, !holders.contains(id) {
            holders.insert(id)
            up = try await tx.apiKey(id: id, accountID: principal.accountID)?.parentKeyID
        }
        var next = principal.apiKey
        while let key = next {
            if key.maxTotalBudget != nil || key.maxServers != nil {
                if server != nil, key.maxTotalBudget != nil, !holders.contains(key.id) {
                    throw DomainError(.forbidden, "Key \(key.name) bounds its servers' total, and this server is not one of them: "
                                      + "it may not raise its budget.")
                }
                let committed = try await tx.keyCommitment(keyID: key.id)
                if let total = key.maxTotalBudget, committed.budget.value + adding.value > total.value {
                    let room = MicroDollars(max(0, total.value - committed.budget.value))
                    throw DomainError.unprocessable("budget_usd", "passes key \(key.name)'s total of \(total.decimal) USD "
                                                    + "(\(room.decimal) USD left; deleting a server frees its cap but not what it spent)")
                }
                if let count = key.maxServers, committed.servers + servers > count {
                    throw DomainError(.forbidden, "Key \(key.name) may have \(count) servers at a time, and has \(committed.servers); "
                                      + "delete one first.")
                }
            }
            if let parent = key.parentKeyID { next = try await tx.apiKey(id: parent, accountID: key.accountID) } else { next = nil }
        }
    }

    public func delete(_ principal: Principal, id: String) async throws {
        try principal.check(.scope(.serversWrite))
        try await locks.withLock(id) {
            let server = try await env.store.read { tx in try await tx.reachableServer(id, by: principal) }
            try await destroy(server, actor: principal.actor)
        }
    }

    /// Destroys every server of a project (before the project itself goes).
    public func deleteAll(_ principal: Principal, projectID: String) async throws {
        // Only this project's servers, gathered before any is destroyed (destroying changes the pages).
        let servers = try await env.store.read { tx in
            var all: [Server] = []
            var cursor: String?
            repeat {
                let page = try await tx.servers(accountID: principal.accountID, projectIDs: [projectID], cursor: cursor, limit: 200)
                all += page.items
                cursor = page.nextCursor
            } while cursor != nil
            return all
        }
        for server in servers {
            try await locks.withLock(server.id) { try await destroy(server, actor: principal.actor) }
        }
    }

    func destroy(_ server: Server, actor: Actor) async throws {
        let egress = await budgets?.egressCounter(server)
        do {
            try await runtime.destroy(server.id)
        } catch {
            throw DomainError.failure(.runtimeFailed, "The server could not be destroyed.", cause: error)
        }
        try await budgets?.settle(server, egressCounter: egress)
        _ = try await transition(server, to: .deleted, action: Action.serverDeleted, actor: actor)
    }

    // MARK: Exec

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
        try await env.store.write { tx in try await tx.insert(started) }
        // Streamed output is masked too; each stream holds back what could begin a secret.
        let maskers = [OutputStreamKind.stdout: StreamMasker(masker), .stderr: StreamMasker(masker)]
        let masked: (@Sendable (OutputStreamKind, [UInt8]) -> Void)? = onOutput.map { forward in
            { kind, bytes in
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
                try? await env.store.write { tx in try await tx.deleteRun(id: runID) }
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
        try await env.store.write { tx in try await tx.update(finished) }
        return finished
    }

    private func lose(_ run: Run) async throws {
        var lost = run
        lost.state = .lost
        lost.finishedAt = env.now()
        let record = lost
        try await env.store.write { tx in try await tx.update(record) }
    }

    /// If the server's watchdog stopped it at its deadline, records that now (the server reads
    /// `exhausted` at once, not after the next metering round). True if its lease ran out.
    func recordBudgetStop(_ server: Server) async -> Bool {
        guard let budgets, (try? await runtime.leaseExpired(server.id)) ?? nil != nil else { return false }
        try? await locks.withLock(server.id) {
            // The metering round may have recorded it first: then the lease note is gone.
            guard let current = try await env.store.read({ tx in try await tx.server(id: server.id, accountID: server.accountID) }),
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
        try await env.store.write { tx in try await tx.insert(run) }
        do {
            try await runtime.spawn(server.id, ProcessRequest(name: run.id, argv: command, cwd: cwd ?? Server.home,
                                                              env: processEnvironment, masked: masker.values))
        } catch {
            var lost = run
            lost.state = .lost
            lost.finishedAt = env.now()
            let record = lost
            try? await env.store.write { tx in try await tx.update(record) }
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
            guard let run = try await tx.run(id: runID, serverID: serverID) else { throw DomainError.notFound }
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
            try await tx.append(ActivityRecord(action: Action.runCancelled, actor: principal.actor,
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
        try await env.store.write { tx in try await tx.update(record) }
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
            return try await tx.runs(serverID: serverID, cursor: cursor, limit: limit)
        }
        var refreshed = page
        for index in refreshed.items.indices { refreshed.items[index] = try await self.refreshed(refreshed.items[index]) }
        return refreshed
    }

    public func run(_ principal: Principal, serverID: String, runID: String) async throws -> Run {
        try principal.check(.scope(.serversRead))
        let run = try await env.store.read { tx in
            _ = try await tx.reachableServer(serverID, by: principal)
            guard let run = try await tx.run(id: runID, serverID: serverID) else { throw DomainError.notFound }
            return run
        }
        return try await refreshed(run)
    }

    // MARK: Budgets

    /// What one round of metering saw: servers whose settlement was overdue, by how much.
    public struct MeteringRound: Sendable {
        public var late: [(serverID: String, by: Duration)] = []
        public var renewed = 0
        public var ended = 0
        public var died = 0
    }

    /// One round of metering (the control plane runs it every second): settles and renews
    /// leases that are due, turns a lease the watchdog let run out into `exhausted` (the
    /// budget is spent) or `stopped`, and marks a server whose container died on its own
    /// `failed`, with the reason, charging it only to the moment it was found dead.
    @discardableResult
    public func enforceBudgets(roundMilliseconds: Int64 = 1000) async throws -> MeteringRound {
        guard let budgets else { return MeteringRound() }
        // One read for the round, one write for all renewals: per-server reads and commits
        // did not keep up with 150 servers on two cores.
        let (running, terms) = try await env.store.read { tx in
            (try await tx.liveServers().filter { $0.state == .running }, try await tx.openLeaseTerms())
        }
        var round = MeteringRound()
        var held: [String] = []
        var due: [Server] = [], ended: [Server] = [], dead: [(Server, String)] = []
        for server in running {
            // A server being started, stopped or changed is left to the next round.
            guard await locks.tryAcquire(server.id) else { continue }
            held.append(server.id)
            if try await runtime.leaseExpired(server.id) != nil {
                ended.append(server)
            } else if let cause = await runtime.stopCause(server.id) {
                dead.append((server, cause))
            } else if case .due(let late) = budgets.check(terms[server.id], roundMilliseconds: roundMilliseconds) {
                due.append(server)
                if late > .zero { round.late.append((server.id, late)) }
            }
        }
        do {
            if !due.isEmpty { _ = try await budgets.renewAll(due) }
            // Stopped by their watchdogs or dead: cleaned up and recorded side by side (each
            // is a container removal), not one after another.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for server in ended { group.addTask { _ = try await endIfLeaseRanOut(server, budgets) } }
                for (server, cause) in dead { group.addTask { try await endDead(server, cause: cause, budgets) } }
                try await group.waitForAll()
            }
        } catch {
            for id in held { await locks.release(id) }
            throw error
        }
        for id in held { await locks.release(id) }
        round.renewed = due.count
        round.ended = ended.count
        round.died = dead.count
        return round
    }

    /// A server whose container stopped on its own (its init died: out of memory, killed):
    /// charged to now and no further, cleaned up, recorded `failed` with the reason.
    func endDead(_ server: Server, cause: String, _ budgets: BudgetService) async throws {
        try await budgets.settle(server)
        try? await runtime.stop(server.id)
        var failed = server
        failed.lastError = cause
        _ = try await transition(failed, to: .failed, action: Action.serverFailed, actor: .system)
    }

    /// When the watchdog stopped the server at its deadline: settles, cleans up and records
    /// why. True if it did.
    func endIfLeaseRanOut(_ server: Server, _ budgets: BudgetService) async throws -> Bool {
        guard let expired = try await runtime.leaseExpired(server.id) else { return false }
        try await budgets.settle(server, at: expired)
        try await runtime.stop(server.id)
        let balance = try await budgets.balance(server)
        let settings = budgets.settings
        let spent = settings.card.cost(cpuMillis: server.cpuMillis, memoryMB: server.memoryMB, milliseconds: 1)
            > balance.available(under: server.budget)
        // Not its own cap: the account's limit left nothing to lease (else the control plane was late).
        let limited = try await env.store.read { tx -> Bool in
            guard !spent, let limit = try await tx.account(id: server.accountID)?.spendingLimit else { return false }
            let available = try await tx.ledgerBalance(accountID: server.accountID).available(under: limit)
            return LeasePlan.next(available: available, card: settings.card, cpuMillis: server.cpuMillis, memoryMB: server.memoryMB,
                                  intervalMilliseconds: settings.leaseMilliseconds) == nil
        }
        var ended = server
        ended.lastError = spent ? "its budget is spent"
            : limited ? "stopped: the account's spending limit was reached" : "its lease ran out before the control plane renewed it"
        _ = try await transition(ended, to: spent ? .exhausted : .stopped,
                                 action: spent ? Action.serverBudgetExhausted : Action.serverStopped, actor: .system)
        return true
    }

    // MARK: Reconciling

    /// At start: adopt servers still running, mark vanished ones failed, lose interrupted runs,
    /// and remove every container, mount, loop device and disk that belongs to no server.
    public func reconcile() async throws -> (adopted: Int, failed: Int, removed: [String]) {
        let servers = try await env.store.read { tx in try await tx.liveServers() }
        var adopted = 0, failed = 0
        for server in servers where server.state == .running || server.state == .creating {
            if server.state == .running, try await runtime.status(server.id) == .running {
                adopted += 1
                continue
            }
            // Stopped by its watchdog while the control plane was away: a lease ran out.
            if let budgets, server.state == .running, try await endIfLeaseRanOut(server, budgets) { continue }
            failed += 1
            try? await runtime.stop(server.id)
            try? await budgets?.settle(server)
            var broken = server
            broken.lastError = server.state == .creating ? "interrupted while being created" : "its container vanished"
            _ = try await transition(broken, to: .failed, action: Action.serverFailed, actor: .system)
        }
        // A server recorded as not running has no business holding a container.
        for server in servers where server.state != .running && server.state != .creating {
            if try await runtime.status(server.id) != nil { try await runtime.stop(server.id) }
        }
        let now = env.now()
        _ = try await env.store.write { tx in try await tx.loseRunningRuns(at: now) }
        let removed = try await runtime.removeOrphans(keeping: Set(servers.map(\.id)))
        return (adopted, failed, removed)
    }

    // MARK: Helpers

    /// Leases the first interval, starts the container and records `running`; records
    /// `exhausted` when the budget buys nothing more, `failed` when the runtime fails.
    func bringUp(_ server: Server, actor: Actor) async throws -> Server {
        if let budgets, try await budgets.renew(server) == .exhausted {
            var spent = server
            spent.lastError = "nothing is left to spend under its budget or the account's spending limit"
            _ = try await transition(spent, to: .exhausted, action: Action.serverBudgetExhausted, actor: actor)
            throw DomainError(.conflict, "The server's budget is spent; raise budget_usd to start it again.")
        }
        do {
            try await runtime.start(ContainerSpec(server: server))
        } catch {
            try? await budgets?.settle(server)
            return try await fail(server, because: error, actor: actor)
        }
        var running = server
        running.lastError = nil
        let started = try await transition(running, to: .running, action: Action.serverStarted, actor: actor)
        // Its app comes back with it (a failure shows in the deployment's state, not here).
        if let deployment = try await env.store.read({ tx in try await tx.currentDeployment(serverID: server.id) }) {
            try? await startDeployment(started, deployment)
        }
        return started
    }

    func fail(_ server: Server, because error: any Error, actor: Actor) async throws -> Server {
        try? await runtime.stop(server.id)
        // The runtime's own words (host paths, pids, runc's stderr) go to the operator's log
        // under the error's id; the server's record and the client get the id.
        let problem = DomainError.failure(.runtimeFailed, "The server failed to start; it is marked failed.", cause: error)
        var failed = server
        failed.lastError = "the runtime could not start it (error \(problem.errorID ?? ""))"
        _ = try await transition(failed, to: .failed, action: Action.serverFailed, actor: actor)
        throw problem
    }

    func transition(_ server: Server, to state: ServerState, action: String, actor: Actor) async throws -> Server {
        var next = server
        next.state = state
        next.updatedAt = env.now()
        let updated = next
        try await env.store.write { tx in
            try await tx.lockAccount(id: server.accountID)
            try await tx.update(updated)
            if state == .deleted {
                try await tx.deleteSecrets(serverID: server.id)
                // A deleted server serves no URL.
                if var project = try await tx.project(id: server.projectID, accountID: server.accountID),
                   project.attachedServerID == server.id {
                    project.attachedServerID = nil
                    try await tx.update(project)
                }
            }
            var metadata = ["from": server.state.rawValue, "to": state.rawValue]
            // Every stop says why: the platform's own say what happened, people's and keys' were asked for.
            if [.failed, .stopped, .exhausted].contains(state) {
                metadata["reason"] = updated.lastError ?? (actor.type == .system ? "stopped by the platform" : "requested")
            }
            try await tx.append(
                ActivityRecord(action: action, actor: actor, target: Target(type: "server", id: server.id),
                               projectID: server.projectID, metadata: metadata),
                accountID: server.accountID, at: updated.updatedAt)
        }
        return updated
    }

    /// The server, if the principal may reach it and it is running (409 otherwise).
    func runningServer(_ principal: Principal, _ id: String) async throws -> Server {
        let server = try await env.store.read { tx in try await tx.reachableServer(id, by: principal) }
        guard server.state == .running else {
            throw DomainError(.serverNotRunning, "The server is \(server.state.rawValue); start it first.")
        }
        return server
    }
}

/// Serialises work per key (a server id) without blocking other keys.
public actor KeyedLock {
    private var busy: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    public func withLock<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    /// Runs `body` holding every key's lock, taken one by one in the order given (callers pass
    /// them sorted, so that two such calls cannot deadlock).
    public func withLocks<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        for key in keys { await acquire(key) }
        defer { for key in keys.reversed() { release(key) } }
        return try await body()
    }

    /// Takes the key's lock if nobody holds it; true if taken (then `release` it).
    public func tryAcquire(_ key: String) -> Bool {
        guard !busy.contains(key) else { return false }
        busy.insert(key)
        return true
    }

    private func acquire(_ key: String) async {
        if !busy.contains(key) {
            busy.insert(key)
            return
        }
        await withCheckedContinuation { waiters[key, default: []].append($0) }
    }

    public func release(_ key: String) {
        if var queue = waiters[key], !queue.isEmpty {
            queue.removeFirst().resume()
            waiters[key] = queue.isEmpty ? nil : queue
        } else {
            busy.remove(key)
        }
    }
}
