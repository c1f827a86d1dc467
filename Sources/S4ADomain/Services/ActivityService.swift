import Foundation

/// The account's activity feed, narrowed to a key's projects when the key is restricted.
public struct ActivityService: Sendable {
    let env: DomainEnvironment
    public init(env: DomainEnvironment) { self.env = env }

    public func list(_ principal: Principal, projectID: String?, action: String?, cursor: String?,
                     limit: Int) async throws -> Page<ActivityEvent> {
        try principal.check(.scope(.activityRead))
        var projects = principal.projectIDs
        if let projectID {
            guard principal.canReach(projectID: projectID) else { throw DomainError.notFound }
            projects = [projectID]
        }
        let query = ActivityQuery(accountID: principal.accountID, projectIDs: projects, action: action,
                                  cursor: cursor, limit: limit)
        return try await env.store.read { tx in try await tx.activity(query) }
    }
}
