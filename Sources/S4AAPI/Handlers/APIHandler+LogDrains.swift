import Foundation
import S4AContract
import S4ADomain

extension APIHandler {
    func createLogDrain(_ input: Operations.CreateLogDrain.Input) async throws -> Operations.CreateLogDrain.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let kinds = try body.kinds.map { try Set($0.map(Self.domain)) }
        let (drain, secret) = try await drains.create(try RequestScope.requirePrincipal(), projectID: input.path.projectId,
                                                      url: body.url, kinds: kinds)
        return .created(.init(body: .json(.init(drain: Self.contract(drain), secret: secret))))
    }

    func listLogDrains(_ input: Operations.ListLogDrains.Input) async throws -> Operations.ListLogDrains.Output {
        let items = try await drains.list(try RequestScope.requirePrincipal(), projectID: input.path.projectId)
        return .ok(.init(body: .json(.init(items: items.map(Self.contract)))))
    }

    func deleteLogDrain(_ input: Operations.DeleteLogDrain.Input) async throws -> Operations.DeleteLogDrain.Output {
        try await drains.delete(try RequestScope.requirePrincipal(), projectID: input.path.projectId, id: input.path.drainId)
        return .noContent(.init())
    }

    static func domain(_ kind: Components.Schemas.LogDrainKind) throws -> DrainKind {
        guard let kind = DrainKind(rawValue: kind.rawValue) else { throw DomainError.invalid("kinds", "unknown kind") }
        return kind
    }

    /// Never the secret, sealed or not.
    static func contract(_ drain: LogDrain) -> Components.Schemas.LogDrain {
        let progress = drain.progress
        return Components.Schemas.LogDrain(
            id: drain.id, projectId: drain.projectID, url: drain.url,
            kinds: drain.kinds.sorted().compactMap { Components.Schemas.LogDrainKind(rawValue: $0.rawValue) },
            createdAt: drain.createdAt, delivered: progress.delivered, dropped: progress.dropped,
            lastSuccessAt: progress.lastSuccessAt, lastError: progress.lastError, lastErrorAt: progress.lastErrorAt)
    }
}
