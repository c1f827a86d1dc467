import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain

/// A server's app from the dashboard: deploy a command, restart it, and the server's own
/// secrets, through the same services as the API's deploy and secrets.
extension Pages {
    func addApp() {
        post("/servers/{id}/deploy", back: serverPage) { visit in
            let id = try visit.parameter("id")
            guard let command = visit.form.text("command") else { throw DomainError.invalid("command", "is required") }
            var port: Int?
            if let text = visit.form.text("port") {
                guard let number = Int(text) else { throw DomainError.invalid("port", "must be a number from 1 to 65535") }
                port = number
            }
            var restart: RestartPolicy?
            if let text = visit.form.text("restart") {
                guard let policy = RestartPolicy(rawValue: text) else {
                    throw DomainError.invalid("restart", "must be always, on-failure or never")
                }
                restart = policy
            }
            // Waits, as the API's deploy does, until the app answers; else its reason is the page's error.
            let (_, status) = try await services.servers.deploy(
                visit.principal, id: id,
                NewDeployment(command: command, port: port, healthPath: visit.form.text("health_path"), restart: restart))
            return .redirect(serverPage(visit), .ok("Deployed: the app answers on port \(status.deployment.port)."))
        }
        post("/servers/{id}/app/restart", back: serverPage) { visit in
            let id = try visit.parameter("id")
            let server = try await services.servers.get(visit.principal, id: id)
            guard let current = try await services.servers.deployment(of: server)?.deployment else {
                throw DomainError(.conflict, "This server has no app to restart; deploy a command first.")
            }
            // A restart is the same deployment started anew (its secrets read again), waited on like a deploy.
            _ = try await services.servers.deploy(
                visit.principal, id: id,
                NewDeployment(command: current.command, port: current.port, healthPath: current.healthPath, restart: current.restart))
            return .redirect(serverPage(visit), .ok("Restarted: the app answers on port \(current.port)."))
        }
        post("/servers/{id}/secrets", back: serverPage) { visit in
            let id = try visit.parameter("id"), name = visit.form.text("name") ?? ""
            try await services.secrets.set(visit.principal, projectID: nil, serverID: id, name: name,
                                           value: visit.form["value"] ?? "")
            return .redirect(serverPage(visit), .ok("Secret \(name) saved for this server; its value will not be shown again. "
                                                    + "Processes started from now on get it (restart the app to pass it on)."))
        }
        post("/servers/{id}/secrets/delete", back: serverPage) { visit in
            let id = try visit.parameter("id"), name = visit.form.text("name") ?? ""
            try await services.secrets.delete(visit.principal, projectID: nil, serverID: id, name: name)
            return .redirect(serverPage(visit), .ok("Secret \(name) deleted from this server."))
        }
        post("/projects/{id}/servers", back: projectPage) { visit in
            let projectID = try visit.parameter("id")
            guard let budget = try visit.form.money("budget_usd") else { throw DomainError.invalid("budget_usd", "is required") }
            var network: NetworkMode?
            if let text = visit.form.text("network") {
                guard let mode = NetworkMode(rawValue: text) else { throw DomainError.invalid("network", "must be none or egress") }
                network = mode
            }
            let server = try await services.servers.create(
                visit.principal,
                NewServer(projectID: projectID, name: visit.form["name"] ?? "", memoryMB: try visit.form.integer("memory_mb"),
                          diskMB: try visit.form.integer("disk_mb"), budget: budget, network: network))
            return .redirect("/servers/\(server.id)", .ok("Server \(server.name) created."))
        }
    }
}
