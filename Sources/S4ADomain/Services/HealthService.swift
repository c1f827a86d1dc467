import Foundation

/// What the monitor remembers between rounds, per deployment: failed probes in a row and the
/// supervisor's restart count last seen (a rise is a crash, however quickly it came back).
public struct HealthMemory: Sendable {
    var failures: [String: Int] = [:]
    var restarts: [String: Int] = [:]
    /// The start of the process last seen answering (its startup grace is over).
    var answered: [String: Date] = [:]
    public init() {}
}

/// Health and uptime of deployed apps: probes every app every few seconds (a TCP connect, or
/// HTTP on its health path), records each probe, opens an incident when an app crashes or
/// fails twice in a row and closes it when it answers again, and restarts an app that runs
/// but stopped answering (by its policy).
public struct HealthService: Sendable {
    let env: DomainEnvironment
    let runtime: any ContainerRuntime
    let servers: ServerService
    public static let failuresBeforeIncident = 2
    public static let failuresBeforeRestart = 3
    public static let probeTimeout: Duration = .seconds(2)
    /// A (re)started app has this long to first answer before its silence counts.
    public static let startupGrace: TimeInterval = 30

    public init(env: DomainEnvironment, runtime: any ContainerRuntime, servers: ServerService) {
        self.env = env
        self.runtime = runtime
        self.servers = servers
    }

    /// One round over every running server with a deployment; returns how many were probed.
    @discardableResult
    public func probeAll(_ memory: inout HealthMemory) async throws -> Int {
        let running = try await env.store.read { tx in
            var found: [(Server, Deployment)] = []
            for server in try await tx.servers.liveServers() where server.state == .running {
                if let deployment = try await tx.deployments.currentDeployment(serverID: server.id) { found.append((server, deployment)) }
            }
            return found
        }
        var probes: [HealthProbe] = []
        for (server, deployment) in running {
            probes += try await probe(server, deployment, &memory)
        }
        let live = Set(running.map(\.1.id))
        memory.failures = memory.failures.filter { live.contains($0.key) }
        memory.restarts = memory.restarts.filter { live.contains($0.key) }
        memory.answered = memory.answered.filter { live.contains($0.key) }
        let batch = probes
        if !batch.isEmpty { try await env.store.write { tx in try await tx.health.insert(batch) } }
        return running.count
    }

    private func probe(_ server: Server, _ deployment: Deployment, _ memory: inout HealthMemory) async throws -> [HealthProbe] {
        let now = env.now()
        func record(_ healthy: Bool, _ milliseconds: Int, _ detail: String) -> HealthProbe {
            HealthProbe(serverID: server.id, projectID: server.projectID, deploymentID: deployment.id, at: now, healthy: healthy,
                        milliseconds: milliseconds, detail: detail)
        }
        var probes: [HealthProbe] = []
        let process = try? await runtime.processStatus(server.id, name: deployment.processName)
        let restarts = process?.restarts ?? 0
        if let seen = memory.restarts[deployment.id], restarts > seen {
            let reason = "the app exited (code \(process?.exitCode.map(String.init) ?? "unknown")) and was restarted"
            probes.append(record(false, 0, reason))
            try await recordCrash(server, reason: reason, crashes: restarts - seen, exitCode: process?.exitCode, at: now)
        }
        memory.restarts[deployment.id] = restarts
        let outcome: ProbeOutcome
        if process?.state == .exited || process == nil {
            outcome = ProbeOutcome(healthy: false, milliseconds: 0,
                                   detail: "the app is not running (exit code \(process?.exitCode.map(String.init) ?? "unknown"))")
        } else {
            outcome = await runtime.probe(server.id, port: deployment.port, path: deployment.healthPath, timeout: Self.probeTimeout)
        }
        let starting = process.map { $0.state != .exited && memory.answered[deployment.id] != $0.startedAt
            && now.timeIntervalSince($0.startedAt) < Self.startupGrace } ?? false
        if starting && !outcome.healthy { return probes }  // still starting up: not (yet) a failure
        probes.append(record(outcome.healthy, outcome.milliseconds, outcome.detail))
        if outcome.healthy {
            if let process { memory.answered[deployment.id] = process.startedAt }
            memory.failures[deployment.id] = 0
            try await closeIncident(server, at: now)
            return probes
        }
        let failures = (memory.failures[deployment.id] ?? 0) + 1
        memory.failures[deployment.id] = failures
        if failures >= Self.failuresBeforeIncident { try await recordCrash(server, reason: outcome.detail, crashes: 0, at: now) }
        // Running but not answering: restarted by its policy (an exited one is its supervisor's).
        if failures >= Self.failuresBeforeRestart, deployment.restart != .never, process?.state == .running {
            memory.failures[deployment.id] = 0
            // Counted first, so that whoever sees the new process also sees the restart counted.
            try await env.store.write { tx in try await tx.deployments.addMonitorRestart(deploymentID: deployment.id) }
            try await recordCrash(server, reason: "the app stopped answering (\(outcome.detail)) and was restarted", crashes: 1, at: now)
            try? await runtime.endProcess(server.id, name: deployment.processName)
            try? await servers.startDeployment(server, deployment)
            memory.restarts[deployment.id] = 0  // a fresh process: its supervisor counts from zero
        }
        return probes
    }

    /// How long an app must answer after its last crash for its incident to end: at once after
    /// a single crash, longer the more it crashed, so a crash loop stays one open incident.
    static func recoveryPeriod(crashes: Int) -> TimeInterval {
        min(60 * TimeInterval(max(crashes - 1, 0)), 600)
    }

    /// A previous incident ended this recently is reopened rather than a new one opened.
    static let reopenWithin: TimeInterval = 600

    /// Opens the server's incident, or updates the open one (more crashes, newest reason); an
    /// incident ended a moment ago is reopened: a crash loop is one incident, not a pair a minute.
    private func recordCrash(_ server: Server, reason: String, crashes: Int, exitCode: Int32? = nil, at now: Date) async throws {
        try await env.store.write { tx in
            let reason = String(reason.prefix(300))
            let latest = try await tx.health.latestIncident(serverID: server.id)
            if var incident = latest, incident.endedAt.map({ now.timeIntervalSince($0) < Self.reopenWithin }) ?? true {
                let reopened = incident.endedAt != nil
                if crashes == 0 && !reopened { return }  // failing probes of an open incident say nothing new
                incident.crashes += crashes
                incident.lastExitCode = exitCode.map(Int.init) ?? incident.lastExitCode
                incident.reason = reason
                incident.updatedAt = now
                incident.endedAt = nil
                try await tx.health.update(incident)
                guard reopened else { return }
                try await tx.lockAccount(id: server.accountID)
                try await tx.activity.append(
                    ActivityRecord(action: Action.serverAppCrashed, actor: .system, target: Target(type: "server", id: server.id),
                                   projectID: server.projectID,
                                   metadata: ["incident_id": incident.id, "reason": reason, "crashes": "\(incident.crashes)",
                                              "reopened": "true"]),
                    accountID: server.accountID, at: now)
                return
            }
            try await tx.lockAccount(id: server.accountID)
            let incident = Incident(id: RandomToken.id(.incident), projectID: server.projectID, serverID: server.id,
                                    accountID: server.accountID, startedAt: now, reason: reason, crashes: crashes,
                                    lastExitCode: exitCode.map(Int.init))
            try await tx.health.insert(incident)
            try await tx.activity.append(
                ActivityRecord(action: Action.serverAppCrashed, actor: .system, target: Target(type: "server", id: server.id),
                               projectID: server.projectID, metadata: ["incident_id": incident.id, "reason": incident.reason]),
                accountID: server.accountID, at: now)
        }
    }

    private func closeIncident(_ server: Server, at now: Date) async throws {
        try await env.store.write { tx in
            guard let open = try await tx.health.openIncident(serverID: server.id),
                  now.timeIntervalSince(open.updatedAt) >= Self.recoveryPeriod(crashes: open.crashes) else { return }
            try await tx.lockAccount(id: server.accountID)
            try await tx.health.closeIncident(id: open.id, at: now)
            try await tx.activity.append(
                ActivityRecord(action: Action.serverAppRecovered, actor: .system, target: Target(type: "server", id: server.id),
                               projectID: server.projectID,
                               metadata: ["incident_id": open.id, "crashes": "\(open.crashes)",
                                          "down_seconds": "\(Int(now.timeIntervalSince(open.startedAt).rounded()))"]),
                accountID: server.accountID, at: now)
        }
    }

    /// Availability over the last 24 hours and 30 days, and the incidents of the last 30 days.
    public func uptime(_ principal: Principal, projectID: String) async throws -> Uptime {
        try principal.check(.scope(.projectsRead))
        let now = env.now()
        return try await env.store.read { tx in
            _ = try await tx.reachableProject(projectID, by: principal)
            let day = try await tx.health.probeCounts(projectID: projectID, since: now.addingTimeInterval(-86_400))
            let month = try await tx.health.probeCounts(projectID: projectID, since: now.addingTimeInterval(-30 * 86_400))
            func share(_ counts: (total: Int, healthy: Int)) -> Double? {
                counts.total == 0 ? nil : Double(counts.healthy) / Double(counts.total)
            }
            return Uptime(last24Hours: share(day), last30Days: share(month), probes24Hours: day.total,
                          incidents: try await tx.health.incidents(projectID: projectID, since: now.addingTimeInterval(-30 * 86_400)))
        }
    }
}
