import Foundation
import S4ADomain

/// Names beside the ids in activity: the account's email, its keys', projects' and servers'
/// names (deleted servers included: their events outlive them).
struct ActivityNames: Sendable {
    var names: [String: String] = [:]

    func row(_ event: ActivityEvent) -> EventRow {
        let actor = event.record.actor, target = event.record.target
        let actorName: String
        switch actor.type {
        case .account: actorName = names[actor.id].map { "account \($0)" } ?? "account"
        case .apiKey: actorName = names[actor.id].map { "key \($0)" } ?? "key"
        case .system: actorName = "system"
        }
        // A secret's id is its name already; a run's id is all it has.
        let targetName = names[target.id].map { "\(target.type) \($0)" } ?? target.type
        return EventRow(at: Format.time(event.at), action: event.record.action, actor: actorName,
                        actorID: actor.type == .system ? nil : actor.id, target: targetName, targetID: target.id,
                        details: event.record.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                            .joined(separator: " "))
    }
}

extension Pages {
    func activityNames(_ principal: Principal) async throws -> ActivityNames {
        async let account = services.accounts.account(principal)
        async let keys = services.keys.list(principal, cursor: nil, limit: 200)
        async let projects = services.projects.list(principal, cursor: nil, limit: 200)
        async let usage = services.usage.account(principal)
        var names = ActivityNames()
        let me = try await account
        names.names[me.id] = me.email
        for key in try await keys.items { names.names[key.id] = key.name }
        for project in try await projects.items { names.names[project.id] = project.name }
        for line in try await usage.servers { names.names[line.server.id] = line.server.name }
        return names
    }
}
