import Foundation
import S4AContract
import S4ADomain

extension APIHandler {
    func listActivity(_ input: Operations.ListActivity.Input) async throws -> Operations.ListActivity.Output {
        let page = try await activity.list(try RequestScope.requirePrincipal(), projectID: input.query.projectId,
                                           action: input.query.action, cursor: input.query.cursor,
                                           limit: try Self.limit(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map(Self.contract), nextCursor: page.nextCursor))))
    }

    static func contract(_ event: ActivityEvent) -> Components.Schemas.ActivityEvent {
        let record = event.record
        return Components.Schemas.ActivityEvent(
            id: event.id, at: event.at,
            actor: .init(_type: .init(rawValue: record.actor.type.rawValue) ?? .system, id: record.actor.id),
            action: record.action, target: .init(_type: record.target.type, id: record.target.id),
            projectId: record.projectID, metadata: .init(additionalProperties: record.metadata), hash: event.hash)
    }
}
