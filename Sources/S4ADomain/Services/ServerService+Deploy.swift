import Foundation

public struct NewDeployment: Sendable {
    public var command: String
    public var port: Int?
    public var healthPath: String?
    public var restart: RestartPolicy?
    /// Answer only once the app answers on its port (or fail with why it does not).
    public var wait: Bool
    public init(command: String, port: Int? = nil, healthPath: String? = nil, restart: RestartPolicy? = nil, wait: Bool = true) {
        self.command = command
        self.port = port
        self.healthPath = healthPath
        self.restart = restart
        self.wait = wait
    }
}

/// Deploying: the server's app as a supervised process with `PORT` set and the secrets
/// injected, replacing the one before; it starts again whenever the server does.
extension ServerService {
    public func deploy(_ principal: Principal, id: String, _ request: NewDeployment) async throws -> (Server, DeploymentStatus) {
        try principal.check(.scope(.serversExec))
        let command = request.command.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !command.isEmpty, command.utf8.count <= 10_000 else {
            throw DomainError.invalid("command", "must be 1 to 10000 bytes")
        }
        let port = request.port ?? Deployment.defaultPort
        guard (1...65535).contains(port) else { throw DomainError.invalid("port", "must be 1 to 65535") }
        if let path = request.healthPath {
            guard path.hasPrefix("/"), path.utf8.count <= 1000, path.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0.asciiValue! >= 0x21 })
            else { throw DomainError.invalid("health_path", "must be a path such as /healthz") }
        }
        let (server, deployment, started) = try await locks.withLock(id) { () async throws -> (Server, Deployment, DeploymentStatus) in
            let server = try await runningServer(principal, id)
            let now = env.now()
            let deployment = Deployment(id: RandomToken.id(.deployment), serverID: server.id, accountID: server.accountID,
                                        command: command, port: port, healthPath: request.healthPath,
                                        restart: request.restart ?? .always, createdAt: now)
            // A port another process holds would make the app fail to bind: said now, not as a crash.
            let replaced = try await env.store.read { tx in try await tx.deployments.currentDeployment(serverID: server.id) }
            if let holder = await runtime.listeners(server.id).first(where: { $0.port == port }),
               holder.process == nil || holder.process != replaced?.processName {
                let who = holder.process.map { "run \($0)" } ?? "a process of the server"
                throw DomainError(.conflict, "Port \(port) is taken by \(who); stop it (POST /v1/servers/\(server.id)/runs/RUN_ID/cancel) "
                                  + "or deploy on another port.")
            }
            let previous = try await env.store.write { tx -> Deployment? in
                try await tx.lockAccount(id: server.accountID)
                let previous = try await tx.deployments.currentDeployment(serverID: server.id)
                try await tx.deployments.insert(deployment)
                var metadata = ["deployment_id": deployment.id, "port": "\(port)", "restart": deployment.restart.rawValue]
                if let previous { metadata["replaced"] = previous.id }
                try await tx.activity.append(
                    ActivityRecord(action: Action.serverDeployed, actor: principal.actor,
                                   target: Target(type: "server", id: server.id), projectID: server.projectID, metadata: metadata),
                    accountID: server.accountID, at: now)
                return previous
            }
            if let previous { try await runtime.endProcess(server.id, name: previous.processName) }
            try await startDeployment(server, deployment)
            return (server, deployment, try await self.status(deployment))
        }
        // Outside the server's lock: waiting must not hold up its metering.
        guard request.wait else { return (server, started) }
        try await awaitAnswer(server, deployment)
        return (server, try await self.status(deployment))
    }

    /// How long a deploy waits for its app to answer.
    static let answerWait: Duration = .seconds(30)

    /// Returns once the app answers on its port (TCP, or its health path); otherwise throws
    /// why not: it exited (with its last lines), it listens on another port, or nothing answers.
    func awaitAnswer(_ server: Server, _ deployment: Deployment, within limit: Duration = answerWait) async throws {
        let deadline = ContinuousClock.now + limit
        var last = ProbeOutcome(healthy: false, milliseconds: 0, detail: "no answer")
        while ContinuousClock.now < deadline {
            let process = try? await runtime.processStatus(server.id, name: deployment.processName)
            if let process, process.state == .exited || process.restarts > 0 {
                let code = process.exitCode.map { "code \($0)" } ?? "an unknown code"
                let lines = (try? await runtime.readLogs(server.id, after: nil).lines)?
                    .filter { $0.process == deployment.processName && $0.stream != .system }.suffix(10).map(\.text) ?? []
                throw DomainError(.appNotAnswering, "The app exited with \(code)"
                                  + (process.state == .exited ? "." : " and is being restarted (\(process.restarts) so far).")
                                  + (lines.isEmpty ? " It printed nothing." : " Its last lines:\n" + lines.joined(separator: "\n")))
            }
            last = await runtime.probe(server.id, port: deployment.port, path: deployment.healthPath, timeout: .seconds(2))
            if last.healthy {
                // Recorded, so the deployment reads healthy at once rather than starting until the monitor's round.
                let probe = HealthProbe(serverID: server.id, projectID: server.projectID, deploymentID: deployment.id,
                                        at: env.now(), healthy: true, milliseconds: last.milliseconds, detail: last.detail)
                try await env.store.write { tx in try await tx.health.insert([probe]) }
                return
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        let seconds = limit.components.seconds
        let ports = await runtime.listeners(server.id).filter { $0.process == deployment.processName }.map(\.port)
        if !ports.isEmpty, !ports.contains(deployment.port) {
            throw DomainError(.appNotAnswering, "Nothing listens on port \(deployment.port); the app listens on "
                              + ports.map(String.init).joined(separator: ", ") + ". Deploy with that port, or make the app listen on $PORT.")
        }
        if ports.contains(deployment.port), let path = deployment.healthPath {
            throw DomainError(.appNotAnswering, "The app listens on port \(deployment.port) but \(path) did not answer well "
                              + "within \(seconds) s: \(last.detail).")
        }
        throw DomainError(.appNotAnswering, "Nothing listens on port \(deployment.port) after \(seconds) s; the app must listen "
                          + "on 0.0.0.0 or 127.0.0.1 at $PORT (\(deployment.port)). See its logs.")
    }

    /// The server's current deployment and how its process is doing; nil if it has none.
    public func deployment(of server: Server) async throws -> DeploymentStatus? {
        guard let deployment = try await env.store.read({ tx in try await tx.deployments.currentDeployment(serverID: server.id) }) else {
            return nil
        }
        return try await status(deployment)
    }

    func status(_ deployment: Deployment) async throws -> DeploymentStatus {
        let process = try? await runtime.processStatus(deployment.serverID, name: deployment.processName)
        let (probe, incident) = try await env.store.read { tx in
            (try await tx.health.latestProbe(deploymentID: deployment.id), try await tx.health.openIncident(serverID: deployment.serverID))
        }
        return DeploymentStatus(deployment: deployment, process: process, lastProbe: probe, incident: incident)
    }

    /// Starts a deployment's process on a running server (the environment is built anew: the
    /// secrets may have changed since it was deployed).
    func startDeployment(_ server: Server, _ deployment: Deployment) async throws {
        let (environment, masker) = try await processEnvironment(server, ["PORT": "\(deployment.port)"])
        do {
            try await runtime.spawn(server.id, ProcessRequest(name: deployment.processName, argv: ["/bin/sh", "-c", deployment.command],
                                                              cwd: Server.home, env: environment, restart: deployment.restart,
                                                              masked: masker.values))
        } catch {
            throw DomainError.failure(.serverNotRunning, "The app could not start.", cause: error)
        }
    }
}
