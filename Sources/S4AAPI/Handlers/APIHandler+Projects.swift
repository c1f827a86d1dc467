import Foundation
import S4AContract
import S4ADomain

extension APIHandler {
    func createProject(_ input: Operations.CreateProject.Input) async throws -> Operations.CreateProject.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let project = try await projects.create(try RequestScope.requirePrincipal(), name: body.name, slug: body.slug)
        return .created(.init(body: .json(contract(project))))
    }

    func listProjects(_ input: Operations.ListProjects.Input) async throws -> Operations.ListProjects.Output {
        let page = try await projects.list(try RequestScope.requirePrincipal(), cursor: input.query.cursor,
                                           limit: try Self.limit(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map(contract), nextCursor: page.nextCursor))))
    }

    func getProject(_ input: Operations.GetProject.Input) async throws -> Operations.GetProject.Output {
        let project = try await projects.get(try RequestScope.requirePrincipal(), id: input.path.projectId)
        return .ok(.init(body: .json(contract(project))))
    }

    func updateProject(_ input: Operations.UpdateProject.Input) async throws -> Operations.UpdateProject.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let changes = ProjectChanges(name: body.name, visibility: body.visibility.flatMap { Visibility(rawValue: $0.rawValue) })
        let project = try await projects.update(try RequestScope.requirePrincipal(), id: input.path.projectId, changes)
        return .ok(.init(body: .json(contract(project))))
    }

    func deleteProject(_ input: Operations.DeleteProject.Input) async throws -> Operations.DeleteProject.Output {
        try await deletion.deleteProject(try RequestScope.requirePrincipal(), id: input.path.projectId)
        return .noContent(.init())
    }

    func contract(_ project: Project) -> Components.Schemas.Project {
        Components.Schemas.Project(
            id: project.id, name: project.name, slug: project.slug,
            visibility: project.visibility == .public ? ._public : ._private,
            url: projects.url(of: project), attachedServerId: project.attachedServerID, createdAt: project.createdAt)
    }

    func attachServer(_ input: Operations.AttachServer.Input) async throws -> Operations.AttachServer.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let project = try await projects.attach(try RequestScope.requirePrincipal(), id: input.path.projectId, serverID: body.serverId)
        return .ok(.init(body: .json(contract(project))))
    }

    func getProjectUptime(_ input: Operations.GetProjectUptime.Input) async throws -> Operations.GetProjectUptime.Output {
        let uptime = try await health.uptime(try RequestScope.requirePrincipal(), projectID: input.path.projectId)
        return .ok(.init(body: .json(.init(
            availability24h: uptime.last24Hours, availability30d: uptime.last30Days, probes24h: uptime.probes24Hours,
            incidents: uptime.incidents.map {
                .init(id: $0.id, serverId: $0.serverID, startedAt: $0.startedAt, endedAt: $0.endedAt, reason: $0.reason,
                      crashes: $0.crashes, lastExitCode: $0.lastExitCode, updatedAt: $0.updatedAt)
            }))))
    }

    func detachServer(_ input: Operations.DetachServer.Input) async throws -> Operations.DetachServer.Output {
        let project = try await projects.attach(try RequestScope.requirePrincipal(), id: input.path.projectId, serverID: nil)
        return .ok(.init(body: .json(contract(project))))
    }
}
