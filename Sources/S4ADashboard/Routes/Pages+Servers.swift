import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain

extension Pages {
    func addServers() {
        get("/servers/{id}") { visit in
            let principal = visit.principal!, id = try visit.parameter("id")
            let usage = try await services.usage.server(principal, id: id, since: Date().addingTimeInterval(-6 * 3600),
                                                        until: nil, step: nil)
            let server = usage.server
            async let runs = services.servers.runs(principal, serverID: id, cursor: nil, limit: 20)
            async let logs = services.servers.logs(principal, id: id, query: LogQuery(limit: 200))
            async let deployment = services.servers.deployment(of: server)
            let points = usage.points
            let step = max(usage.step, 1)
            let charts = [
                SVGChart(title: "CPU (cores)", values: points.map { Double($0.cpuMicros) / 1e6 / step },
                         format: { String(format: "%.2f", $0) }).svg,
                SVGChart(title: "Memory", values: points.map { Double($0.memoryBytes) },
                         format: { Format.bytes(Int64($0)) }).svg,
                SVGChart(title: "Spend", values: points.map { Double($0.charged.value) / 1e6 },
                         format: { String(format: "$%.4f", $0) }).svg,
            ]
            let deployed = try await deployment
            return .page("server", [
                "title": server.name,
                "server": [
                    "id": server.id, "name": server.name, "state": server.state.rawValue, "project_id": server.projectID,
                    "template": server.template, "cpu": server.cpuMillis, "memory": server.memoryMB, "disk": server.diskMB,
                    "network": server.network.rawValue, "last_error": server.lastError as Any,
                    "running": server.state == .running, "startable": server.state.canMove(to: .running) && server.state != .creating,
                ],
                "spend": serverRow(server, balance: usage.balance, attached: false),
                "reserved": Format.money(usage.balance.reserved),
                "rate": Format.money(usage.ratePerHour),
                "charts": charts,
                "deployment": deployed.map { status -> [String: Any] in
                    ["command": status.deployment.command, "port": status.deployment.port]
                } as Any,
                "runs": try await runs.items.map(runRow),
                "logs": try await logs.map(logText).joined(separator: "\n"),
                "logs_url": "/v1/servers/\(server.id)/logs?follow=true&limit=200",
            ])
        }
        post("/servers/{id}/stop", back: serverPage) { visit in
            _ = try await services.servers.stop(visit.principal, id: try visit.parameter("id"))
            return .redirect(serverPage(visit), .ok("Stopped. Its disk is kept; it costs nothing while stopped."))
        }
        post("/servers/{id}/runs/{run}/cancel", back: serverPage) { visit in
            let run = try await services.servers.cancelRun(visit.principal, serverID: try visit.parameter("id"),
                                                           runID: try visit.parameter("run"))
            return .redirect(serverPage(visit), .ok("Stopped \(run.command) for good."))
        }
        post("/servers/{id}/start", back: serverPage) { visit in
            _ = try await services.servers.start(visit.principal, id: try visit.parameter("id"))
            return .redirect(serverPage(visit), .ok("Started."))
        }
        post("/servers/{id}/budget", back: serverPage) { visit in
            guard let amount = try visit.form.money("budget_usd") else { throw DomainError.invalid("budget_usd", "is required") }
            let server = try await services.servers.setBudget(visit.principal, id: try visit.parameter("id"), budget: amount)
            return .redirect(serverPage(visit), .ok("Budget set to \(Format.money(server.budget))."))
        }
        get("/servers/{id}/delete") { visit in
            let server = try await services.servers.get(visit.principal, id: try visit.parameter("id"))
            return .page("server_delete", ["title": "Delete \(server.name)", "id": server.id, "name": server.name])
        }
        post("/servers/{id}/delete", back: { serverPage($0) + "/delete" }) { visit in
            let server = try await services.servers.get(visit.principal, id: try visit.parameter("id"))
            try visit.requireTyped("confirm_name", equals: server.name, "the server's name")
            try await services.servers.delete(visit.principal, id: server.id)
            return .redirect("/projects/\(server.projectID)", .ok("Server \(server.name) and its disk are deleted."))
        }
        post("/servers/{id}/exec", back: serverPage) { visit in
            guard let command = visit.form.text("command") else { throw DomainError.invalid("command", "is required") }
            let run = try await services.servers.exec(visit.principal, id: try visit.parameter("id"), command: ["sh", "-c", command],
                                                      display: command, cwd: nil, environment: [:], stdin: [],
                                                      timeout: .seconds(60))
            return .redirect("/servers/\(run.serverID)/runs/\(run.id)")
        }
        get("/servers/{id}/terminal") { visit in
            let server = try await services.servers.get(visit.principal, id: try visit.parameter("id"))
            return .page("terminal", ["title": "Terminal: \(server.name)", "id": server.id, "name": server.name])
        }
        get("/servers/{id}/runs/{run}") { visit in
            let run = try await services.servers.run(visit.principal, serverID: try visit.parameter("id"),
                                                     runID: try visit.parameter("run"))
            return .page("run", ["title": "Run \(run.id)", "run": runRow(run), "stdout": run.stdout, "stderr": run.stderr,
                                 "truncated": run.truncated])
        }
    }

    func runRow(_ run: Run) -> [String: Any] {
        [
            "id": run.id, "server_id": run.serverID, "kind": run.kind, "command": run.command, "state": run.state.rawValue,
            "exit_code": run.exitCode.map(String.init) ?? "—", "started": Format.time(run.startedAt),
            "cpu": run.cpuMicros.map { String(format: "%.3f s", Double($0) / 1e6) } ?? "—",
            "ended_by": run.endedBy?.rawValue as Any,
            "cancellable": run.kind == Run.background && run.state == .running,
        ]
    }

    func logText(_ line: LogLine) -> String {
        "\(Format.time(line.time)) [\(line.process)] \(line.text)"
    }
}

/// The server's page, where its forms' failures are shown.
@Sendable func serverPage(_ visit: Visit) -> String { "/servers/\(visit.parameters.get("id") ?? "")" }
