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
    /// Where the processes' secrets come from.
    let secrets: SecretService
    /// Leases and the ledger.
    let budgets: BudgetService

    public init(env: DomainEnvironment, runtime: any ContainerRuntime, secrets: SecretService,
                budgets: BudgetService, locks: KeyedLock = KeyedLock()) {
        self.env = env
        self.runtime = runtime
        self.secrets = secrets
        self.budgets = budgets
        self.locks = locks
    }

    /// A process's environment: the project's secrets, the server's over them, the request's
    /// own over both; and the masker for the secret values it received.
    func processEnvironment(_ server: Server, _ requested: [String: String]) async throws -> ([String: String], SecretMasker) {
        let injected = try await secrets.environment(for: server)
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
        try ServerLimits.check("cpu_millis", cpu, in: ServerLimits.cpuMillis)
        try ServerLimits.check("memory_mb", memory, in: ServerLimits.memoryMB)
        try ServerLimits.check("disk_mb", disk, in: ServerLimits.diskMB)
        guard request.budget.value > 0 else { throw DomainError.invalid("budget_usd", "must be more than zero") }
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
            let slot = try await tx.servers.freeUIDSlot()
            guard slot < ServerLimits.maxSlots else { throw DomainError(.conflict, "This platform has no room for more servers.") }
            let server = Server(id: RandomToken.id(.server), projectID: request.projectID, accountID: principal.accountID,
                                name: name, template: template, cpuMillis: cpu, memoryMB: memory, diskMB: disk,
                                pidsLimit: ServerLimits.defaultPids, budget: request.budget, network: network,
                                state: .creating, uidSlot: slot, createdAt: now, updatedAt: now, createdByKeyID: principal.apiKey?.id)
            try await tx.servers.insert(server)
            try await tx.activity.append(
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
            try await tx.servers.servers(accountID: principal.accountID, projectIDs: filter, cursor: cursor, limit: limit)
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
            let egress = await budgets.egressCounter(server)
            try await runtime.stop(server.id)
            try await budgets.settle(server, egressCounter: egress)
            return try await transition(server, to: .stopped, action: Action.serverStopped, actor: principal.actor)
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
                let page = try await tx.servers.servers(accountID: principal.accountID, projectIDs: [projectID], cursor: cursor, limit: 200)
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
        let egress = await budgets.egressCounter(server)
        do {
            try await runtime.destroy(server.id)
        } catch {
            throw DomainError.failure(.runtimeFailed, "The server could not be destroyed.", cause: error)
        }
        try await budgets.settle(server, egressCounter: egress)
        _ = try await transition(server, to: .deleted, action: Action.serverDeleted, actor: actor)
    }

    // MARK: Helpers

    /// Leases the first interval, starts the container and records `running`; records
    /// `exhausted` when the budget buys nothing more, `failed` when the runtime fails.
    func bringUp(_ server: Server, actor: Actor) async throws -> Server {
        if try await budgets.renew(server) == .exhausted {
            var spent = server
            spent.lastError = "nothing is left to spend under its budget or the account's spending limit"
            _ = try await transition(spent, to: .exhausted, action: Action.serverBudgetExhausted, actor: actor)
            throw DomainError(.conflict, "The server's budget is spent; raise budget_usd to start it again.")
        }
        do {
            try await runtime.start(ContainerSpec(server: server))
        } catch {
            try? await budgets.settle(server)
            return try await fail(server, because: error, actor: actor)
        }
        var running = server
        running.lastError = nil
        let started = try await transition(running, to: .running, action: Action.serverStarted, actor: actor)
        // Its app comes back with it (a failure shows in the deployment's state, not here).
        if let deployment = try await env.store.read({ tx in try await tx.deployments.currentDeployment(serverID: server.id) }) {
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
            try await tx.servers.update(updated)
            if state == .deleted {
                try await tx.vault.deleteSecrets(serverID: server.id)
                // A deleted server serves no URL.
                if var project = try await tx.projects.project(id: server.projectID, accountID: server.accountID),
                   project.attachedServerID == server.id {
                    project.attachedServerID = nil
                    try await tx.projects.update(project)
                }
            }
            var metadata = ["from": server.state.rawValue, "to": state.rawValue]
            // Every stop says why: the platform's own say what happened, people's and keys' were asked for.
            if [.failed, .stopped, .exhausted].contains(state) {
                metadata["reason"] = updated.lastError ?? (actor.type == .system ? "stopped by the platform" : "requested")
            }
            try await tx.activity.append(
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
