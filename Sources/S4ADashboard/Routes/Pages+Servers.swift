import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain

extension Pages {
    func addServers() {
        get("/servers/{id}") { visit in
            .view("server", try await serverPageModel(visit.principal, id: try visit.parameter("id")))
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
            return .view("server_delete", ServerNamePage(title: "Delete \(server.name)", id: server.id, name: server.name))
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
            return .view("terminal", ServerNamePage(title: "Terminal: \(server.name)", id: server.id, name: server.name))
        }
        get("/servers/{id}/runs/{run}") { visit in
            let run = try await services.servers.run(visit.principal, serverID: try visit.parameter("id"),
                                                     runID: try visit.parameter("run"))
            return .view("run", RunPage(title: "Run \(run.id)", run: runRow(run), stdout: run.stdout,
                                        stderr: run.stderr.isEmpty ? nil : run.stderr, truncated: run.truncated))
        }
    }

    func runRow(_ run: Run) -> RunRow {
        RunRow(id: run.id, serverID: run.serverID, kind: run.kind, command: run.command, state: run.state.rawValue,
               exitCode: run.exitCode.map(String.init) ?? "—", started: Format.time(run.startedAt),
               cpu: run.cpuMicros.map { String(format: "%.3f s", Double($0) / 1e6) } ?? "—",
               endedBy: run.endedBy?.rawValue, cancellable: run.kind == Run.background && run.state == .running)
    }

    func logText(_ line: LogLine) -> String {
        "\(Format.time(line.time)) [\(line.process)] \(line.text)"
    }
}

/// The server's page, where its forms' failures are shown.
@Sendable func serverPage(_ visit: Visit) -> String { "/servers/\(visit.parameters.get("id") ?? "")" }
