/// Looking a project or server up for a principal: it must be in the principal's account and,
/// for a key restricted to projects, in one of them. Either miss is the same 404, so a key
/// cannot tell another account's ids (or its own account's out-of-reach ones) from unknown ones.
extension StoreTransaction {
    func reachableProject(_ id: String, by principal: Principal) async throws -> Project {
        guard principal.canReach(projectID: id),
              let project = try await projects.project(id: id, accountID: principal.accountID) else {
            throw DomainError(.notFound, "No such project.")
        }
        return project
    }

    func reachableServer(_ id: String, by principal: Principal) async throws -> Server {
        guard let server = try await servers.server(id: id, accountID: principal.accountID),
              principal.canReach(projectID: server.projectID) else { throw DomainError.notFound }
        return server
    }
}
