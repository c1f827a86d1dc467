import Foundation

public struct NewDeployment: Sendable {
    public var command: String
    public var port: Int?
    public var healthPath: String?
    public var restart: RestartPolicy?
    public init(command: String, port: Int? = nil, healthPath: String? = nil, restart: RestartPolicy? = nil) {
        self.command = command
        self.port = port
        self.healthPath = healthPath
        self.restart = restart
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
        return try await locks.withLock(id) {
            let server = try await runningServer(principal, id)
            let now = env.now()
            let deployment = Deployment(id: RandomToken.id(.deployment), serverID: server.id, accountID: server.accountID,
                                        command: command, port: port, healthPath: request.healthPath,
                                        restart: request.restart ?? .always, createdAt: now)
            let previous = try await env.store.write { tx -> Deployment? in
                try await tx.lockAccount(id: server.accountID)
                let previous = try await tx.currentDeployment(serverID: server.id)
                try await tx.insert(deployment)
                var metadata = ["deployment_id": deployment.id, "port": "\(port)", "restart": deployment.restart.rawValue]
                if let previous { metadata["replaced"] = previous.id }
                try await tx.append(
                    ActivityRecord(action: Action.serverDeployed, actor: principal.actor,
                                   target: Target(type: "server", id: server.id), projectID: server.projectID, metadata: metadata),
                    accountID: server.accountID, at: now)
                return previous
            }
            if let previous { try await runtime.endProcess(server.id, name: previous.processName) }
            try await startDeployment(server, deployment)
            return (server, try await status(deployment))
        }
    }

    /// The server's current deployment and how its process is doing; nil if it has none.
    public func deployment(of server: Server) async throws -> DeploymentStatus? {
        guard let deployment = try await env.store.read({ tx in try await tx.currentDeployment(serverID: server.id) }) else {
            return nil
        }
        return try await status(deployment)
    }

    func status(_ deployment: Deployment) async throws -> DeploymentStatus {
        DeploymentStatus(deployment: deployment, process: try? await runtime.processStatus(deployment.serverID,
                                                                                         name: deployment.processName))
    }

    /// Starts a deployment's process on a running server (the environment is built anew: the
    /// secrets may have changed since it was deployed).
    func startDeployment(_ server: Server, _ deployment: Deployment) async throws {
        let (environment, masker) = try await processEnvironment(server, ["PORT": "\(deployment.port)"])
        do {
            try await runtime.spawn(server.id, ProcessRequest(name: deployment.processName, argv: ["/bin/sh", "-c", deployment.command],
                                                              cwd: "/root", env: environment, restart: deployment.restart,
                                                              masked: masker.values))
        } catch {
            throw DomainError.failure(.serverNotRunning, "The app could not start.", cause: error)
        }
    }
}
