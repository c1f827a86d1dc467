import Foundation
import S4ADomain

/// The server page's model, read through the same services as the API.
extension Pages {
    func serverPageModel(_ principal: Principal, id: String) async throws -> ServerPage {
        let until = Date(), since = until.addingTimeInterval(-6 * 3600)
        let usage = try await services.usage.server(principal, id: id, since: since, until: until, step: nil)
        let server = usage.server
        async let runs = services.servers.runs(principal, serverID: id, cursor: nil, limit: 20)
        async let logs = services.servers.logs(principal, id: id, query: LogQuery(limit: 200))
        async let deployment = services.servers.deployment(of: server)
        async let project = services.projects.get(principal, id: server.projectID)
        async let serverSecrets = services.secrets.list(principal, projectID: nil, serverID: server.id)
        async let projectSecrets = services.secrets.list(principal, projectID: server.projectID, serverID: nil)
        let own = try await serverSecrets.map(secretRow)
        let ownNames = Set(own.map(\.name))
        let deployed = try await deployment
        let owner = try await project
        return ServerPage(
            title: server.name,
            server: .init(id: server.id, name: server.name, state: server.state.rawValue, projectID: server.projectID,
                          projectName: owner.name, template: server.template, cpu: server.cpuMillis,
                          memory: server.memoryMB, disk: server.diskMB, network: server.network.rawValue,
                          lastError: server.lastError, running: server.state == .running,
                          startable: server.state.canMove(to: .running) && server.state != .creating),
            spend: spendBar(server, usage.balance),
            reserved: Format.money(usage.balance.reserved),
            rate: Format.money(usage.ratePerHour),
            charts: serverCharts(usage, since: since, until: until),
            app: deployed.map { appSection($0, server: server, project: owner) },
            deploy: .init(command: deployed?.deployment.command ?? "", port: deployed?.deployment.port ?? Deployment.defaultPort,
                          healthPath: deployed?.deployment.healthPath ?? "",
                          policies: RestartPolicy.allCases.map { policy in
                              Choice(value: policy.rawValue, label: policy.rawValue,
                                     selected: policy == (deployed?.deployment.restart ?? .always))
                          }),
            serverSecrets: own,
            projectSecrets: try await projectSecrets.map { info in
                var row = secretRow(info)
                row.overridden = ownNames.contains(info.name)
                return row
            },
            runs: try await runs.items.map(runRow),
            logs: try await logs.map(logText).joined(separator: "\n"),
            logsURL: "/v1/servers/\(server.id)/logs?follow=true&limit=200")
    }

    /// The App section: the deployment's state as the API reports it (DeploymentStatus.state),
    /// every restart, the last exit, and health from the newest probe and the open incident.
    func appSection(_ status: DeploymentStatus, server: Server, project: Project) -> ServerPage.App {
        let deployment = status.deployment, process = status.process
        let state: String
        switch status.state {
        case .starting: state = "starting (not answered yet)"
        case .healthy: state = "healthy"
        case .unhealthy: state = "unhealthy (running, not answering)"
        case .crashLooping: state = "crash-looping"
        case .stopped: state = process == nil ? "stopped (the server is not running it)" : "stopped (it exited)"
        }
        var health: String, healthy = false
        if let probe = status.lastProbe {
            healthy = probe.healthy
            health = (probe.healthy ? "answered " : "did not answer ") + (deployment.healthPath.map { "GET \($0)" } ?? "on port \(deployment.port)")
                + " at \(Format.time(probe.at)) UTC (\(probe.milliseconds) ms)" + (probe.healthy || probe.detail.isEmpty ? "" : ": \(probe.detail)")
        } else {
            health = "not probed yet"
        }
        if let incident = status.incident {
            healthy = false
            health += "; incident open since \(Format.time(incident.startedAt)) UTC: \(incident.reason)"
                + (incident.crashes > 0 ? " (\(incident.crashes) crashes)" : "")
        }
        let exit = process?.exitCode.map(Int.init) ?? status.incident?.lastExitCode
        let url = services.projects.url(of: project)
        return .init(command: deployment.command, port: deployment.port, healthPath: deployment.healthPath,
                     restartPolicy: deployment.restart.rawValue, state: state, stateName: status.state.rawValue,
                     restarts: status.restarts,
                     lastExit: exit.map { "code \($0)" + (process?.finishedAt.map { " at \(Format.time($0)) UTC" } ?? "") },
                     started: process.map { Format.time($0.startedAt) }, health: health, healthy: healthy,
                     url: project.attachedServerID == server.id ? url : nil, projectURL: url)
    }

    func spendBar(_ server: Server, _ balance: LedgerBalance) -> SpendBar {
        SpendBar(charged: Format.money(balance.charged), budget: Format.money(server.budget),
                 chargedMicros: balance.charged.value, budgetMicros: max(server.budget.value, 1),
                 exhausted: server.state == .exhausted || balance.charged >= server.budget)
    }

    func secretRow(_ info: SecretInfo) -> SecretRow {
        SecretRow(name: info.name, version: info.version, updated: Format.time(info.updatedAt))
    }

    func serverCharts(_ usage: ServerUsage, since: Date, until: Date) -> [String] {
        let points = usage.points
        let step = max(usage.step, 1)
        func chart(_ title: String, _ value: (UsagePoint) -> Double, _ format: @escaping (Double) -> String) -> String {
            SVGChart(title: title, points: points.map { ($0.at, value($0)) }, since: since, until: until, format: format).svg
        }
        return [
            chart("CPU (cores)", { Double($0.cpuMicros) / 1e6 / step }, { String(format: "%g cores", $0) }),
            chart("Memory", { Double($0.memoryBytes) }, { Format.bytes(Int64($0)) }),
            chart("Spend so far", { Double($0.charged.value) / 1e6 }, { String(format: "$%g", $0) }),
        ]
    }
}
