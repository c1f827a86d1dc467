import Foundation
import OpenAPIRuntime
import S4AContract
import S4ADomain

extension APIHandler {
    func listProjectSecrets(_ input: Operations.ListProjectSecrets.Input) async throws -> Operations.ListProjectSecrets.Output {
        let items = try await secrets.list(try RequestScope.requirePrincipal(), projectID: input.path.projectId, serverID: nil)
        return .ok(.init(body: .json(.init(items: items.map(Self.contract)))))
    }

    func setProjectSecret(_ input: Operations.SetProjectSecret.Input) async throws -> Operations.SetProjectSecret.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let info = try await setSecret(projectID: input.path.projectId, serverID: nil, name: input.path.name, value: body.value)
        return .ok(.init(body: .json(Self.contract(info))))
    }

    func deleteProjectSecret(_ input: Operations.DeleteProjectSecret.Input) async throws -> Operations.DeleteProjectSecret.Output {
        try await secrets.delete(try RequestScope.requirePrincipal(), projectID: input.path.projectId, serverID: nil,
                                 name: input.path.name)
        return .noContent(.init())
    }

    func listServerSecrets(_ input: Operations.ListServerSecrets.Input) async throws -> Operations.ListServerSecrets.Output {
        let items = try await secrets.list(try RequestScope.requirePrincipal(), projectID: nil, serverID: input.path.serverId)
        return .ok(.init(body: .json(.init(items: items.map(Self.contract)))))
    }

    func setServerSecret(_ input: Operations.SetServerSecret.Input) async throws -> Operations.SetServerSecret.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let info = try await setSecret(projectID: nil, serverID: input.path.serverId, name: input.path.name, value: body.value)
        return .ok(.init(body: .json(Self.contract(info))))
    }

    func deleteServerSecret(_ input: Operations.DeleteServerSecret.Input) async throws -> Operations.DeleteServerSecret.Output {
        try await secrets.delete(try RequestScope.requirePrincipal(), projectID: nil, serverID: input.path.serverId,
                                 name: input.path.name)
        return .noContent(.init())
    }

    /// Sets, then answers with the secret as listed (never the value).
    private func setSecret(projectID: String?, serverID: String?, name: String, value: String) async throws -> SecretInfo {
        let principal = try RequestScope.requirePrincipal()
        try await secrets.set(principal, projectID: projectID, serverID: serverID, name: name, value: value)
        guard let info = try await secrets.list(principal, projectID: projectID, serverID: serverID).first(where: { $0.name == name })
        else { throw DomainError.notFound }
        return info
    }

    static func contract(_ secret: SecretInfo) -> Components.Schemas.Secret {
        .init(name: secret.name, scope: .init(rawValue: secret.scope) ?? .project, serverId: secret.serverID,
              version: secret.version, createdAt: secret.createdAt, updatedAt: secret.updatedAt)
    }
}
