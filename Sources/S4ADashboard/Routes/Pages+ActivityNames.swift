import Foundation
import S4ADomain

/// An activity event as a row: who and what, by type and id.
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
