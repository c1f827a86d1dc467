import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain

extension Pages {
    func addProjects() {
        get("/projects") { visit in
            let projects = try await services.projects.list(visit.principal, cursor: nil, limit: 200).items
            return .view("projects", ProjectsPage(title: "Projects", projects: projects.map { project in
                .init(id: project.id, name: project.name, url: services.projects.url(of: project),
                      isPublic: project.visibility == .public)
            }))
        }
        post("/projects", back: { _ in "/projects" }) { visit in
            let project = try await services.projects.create(visit.principal, name: visit.form["name"] ?? "",
                                                              slug: visit.form.text("slug"))
            return .redirect("/projects/\(project.id)", .ok("Project created. It is private until you publish it."))
        }
        get("/projects/{id}") { visit in
            let principal = visit.principal!
            let project = try await services.projects.get(principal, id: try visit.parameter("id"))
            async let secrets = services.secrets.list(principal, projectID: project.id, serverID: nil)
            async let activity = services.activity.list(principal, projectID: project.id, action: nil, cursor: nil, limit: 20)
            async let uptime = services.health.uptime(principal, projectID: project.id)
            async let names = activityNames(principal)
            // The project's servers with their spend, in one read.
            async let usage = services.usage.account(principal, projectID: project.id)
            let live = try await usage.servers.filter { $0.server.state != .deleted }
            let uptimeNow = try await uptime
            let namer = try await names
            return .view("project", ProjectPage(
                title: project.name,
                project: .init(id: project.id, name: project.name, slug: project.slug, url: services.projects.url(of: project),
                               isPublic: project.visibility == .public),
                servers: live.map { line in
                    .init(id: line.server.id, name: line.server.name, state: line.server.state.rawValue,
                          attached: line.server.id == project.attachedServerID, spend: spendBar(line.server, line.balance))
                },
                attachable: live.filter { $0.server.id != project.attachedServerID }
                    .map { Choice(value: $0.server.id, label: $0.server.name, selected: false) },
                secrets: try await secrets.map(secretRow),
                events: try await activity.items.map(namer.row),
                uptime24h: Format.percent(uptimeNow.last24Hours),
                uptime30d: Format.percent(uptimeNow.last30Days),
                probes24h: uptimeNow.probes24Hours,
                incidents: uptimeNow.incidents.prefix(10).map { incident in
                    .init(started: Format.time(incident.startedAt), ended: Format.time(incident.endedAt),
                          reason: incident.reason, open: incident.endedAt == nil)
                },
                networks: NetworkMode.allCases.map { Choice(value: $0.rawValue, label: $0.rawValue, selected: $0 == .none) },
                hasAttachable: live.contains { $0.server.id != project.attachedServerID },
                hasIncidents: !uptimeNow.incidents.isEmpty))
        }
        get("/projects/{id}/publish") { visit in
            let project = try await services.projects.get(visit.principal, id: try visit.parameter("id"))
            // Already public: nothing to confirm.
            guard project.visibility != .public else {
                return .redirect("/projects/\(project.id)", .ok("\(services.projects.url(of: project)) is public already."))
            }
            return .view("publish", PublishPage(title: "Publish \(project.name)", id: project.id, name: project.name,
                                                url: services.projects.url(of: project),
                                                previewPath: "/preview/\(project.slug)",
                                                attached: try await attachedSummary(visit.principal, project)))
        }
        post("/projects/{id}/visibility", back: projectPage) { visit in
            let id = try visit.parameter("id")
            guard let visibility = Visibility(rawValue: visit.form["visibility"] ?? "") else {
                throw DomainError.invalid("visibility", "must be public or private")
            }
            if visibility == .public {
                // Publishing takes the confirmation page, which names the URL being opened to the world.
                let project = try await services.projects.get(visit.principal, id: id)
                guard visit.form["confirm_url"] == services.projects.url(of: project) else {
                    return .redirect("/projects/\(id)/publish", .error("Confirm the URL to publish."))
                }
            }
            let project = try await services.projects.update(visit.principal, id: id, ProjectChanges(visibility: visibility))
            let url = services.projects.url(of: project)
            return .redirect("/projects/\(id)", .ok(visibility == .public ? "\(url) is public now." : "\(url) is private now."))
        }
        get("/projects/{id}/delete") { visit in
            let project = try await services.projects.get(visit.principal, id: try visit.parameter("id"))
            return .view("project_delete", ProjectDeletePage(title: "Delete \(project.name)", id: project.id, name: project.name,
                                                             slug: project.slug, url: services.projects.url(of: project)))
        }
        post("/projects/{id}/delete", back: { projectPage($0) + "/delete" }) { visit in
            let project = try await services.projects.get(visit.principal, id: try visit.parameter("id"))
            try visit.requireTyped("confirm_slug", equals: project.slug, "the project's slug")
            try await services.deletion.deleteProject(visit.principal, id: project.id)
            return .redirect("/projects", .ok("Project \(project.name) is deleted: its servers, disks and secrets are gone."))
        }
        post("/projects/{id}/attach", back: projectPage) { visit in
            let id = try visit.parameter("id")
            guard let server = visit.form.text("server_id") else { throw DomainError.invalid("server_id", "is required") }
            _ = try await services.projects.attach(visit.principal, id: id, serverID: server)
            return .redirect("/projects/\(id)", .ok("Attached: the project's URL now serves this server's app."))
        }
        post("/projects/{id}/detach", back: projectPage) { visit in
            let id = try visit.parameter("id")
            _ = try await services.projects.attach(visit.principal, id: id, serverID: nil)
            return .redirect("/projects/\(id)", .ok("Detached: the project's URL serves nothing."))
        }
        post("/projects/{id}/secrets", back: projectPage) { visit in
            let id = try visit.parameter("id"), name = visit.form.text("name") ?? ""
            try await services.secrets.set(visit.principal, projectID: id, serverID: nil, name: name,
                                           value: visit.form["value"] ?? "")
            return .redirect("/projects/\(id)", .ok("Secret \(name) saved. Its value will not be shown again."))
        }
        post("/projects/{id}/secrets/delete", back: projectPage) { visit in
            let id = try visit.parameter("id"), name = visit.form.text("name") ?? ""
            try await services.secrets.delete(visit.principal, projectID: id, serverID: nil, name: name)
            return .redirect("/projects/\(id)", .ok("Secret \(name) deleted."))
        }
    }
}

extension Pages {
    /// The server a project's URL serves, with its app's health, for the publish confirmation.
    func attachedSummary(_ principal: Principal, _ project: Project) async throws -> PublishPage.Attached? {
        guard let id = project.attachedServerID else { return nil }
        let server = try await services.servers.get(principal, id: id)
        let app = try await services.servers.deployment(of: server).map { appSection($0, server: server, project: project) }
        return .init(id: server.id, name: server.name, state: server.state.rawValue,
                     health: app.map { "app \($0.state); \($0.health)" } ?? "no app deployed: the URL would answer with an error page",
                     healthy: app?.healthy ?? false)
    }
}

/// The project's page, where its forms' failures are shown.
@Sendable func projectPage(_ visit: Visit) -> String { "/projects/\(visit.parameters.get("id") ?? "")" }
