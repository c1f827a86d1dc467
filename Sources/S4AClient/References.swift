import S4AContract

/// Projects and servers as people and agents name them: an id (`prj_…`, `srv_…`) is used as
/// is (no lookup, so a key needs no read scope for it); a project may be named by its slug and
/// a server as `project/name` (the project's slug or id, then the server's name).
public enum References {
    public static func projectID(_ reference: String, _ connection: APIConnection) async throws -> String {
        if reference.hasPrefix("prj_") { return reference }
        var cursor: String?
        repeat {
            switch try await connection.client.listProjects(query: .init(cursor: cursor, limit: 200)) {
            case .ok(let ok):
                let page = try ok.body.json
                if let project = page.items.first(where: { $0.slug == reference }) { return project.id }
                cursor = page.nextCursor
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        } while cursor != nil
        throw ReferenceError("No project with the id or slug '\(reference)'.")
    }

    public static func serverID(_ reference: String, _ connection: APIConnection) async throws -> String {
        if reference.hasPrefix("srv_") { return reference }
        guard let slash = reference.firstIndex(of: "/"), reference.index(after: slash) != reference.endIndex else {
            throw ReferenceError("'\(reference)' is not a server: give its id (srv_…) or project/name (e.g. shop/web).")
        }
        let project = try await projectID(String(reference[..<slash]), connection)
        let name = String(reference[reference.index(after: slash)...])
        var found: [Components.Schemas.Server] = []
        var cursor: String?
        repeat {
            switch try await connection.client.listServers(query: .init(projectId: project, cursor: cursor, limit: 200)) {
            case .ok(let ok):
                let page = try ok.body.json
                found += page.items.filter { $0.name == name && $0.state != .deleted }
                cursor = page.nextCursor
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        } while cursor != nil
        guard let server = found.first else { throw ReferenceError("No server named '\(name)' in project \(reference[..<slash]).") }
        guard found.count == 1 else {
            throw ReferenceError("\(found.count) servers are named '\(name)' in \(reference[..<slash]): "
                                 + found.map(\.id).joined(separator: ", ") + "; give one's id.")
        }
        return server.id
    }
}

/// A project or server reference that names nothing (or more than one thing).
public struct ReferenceError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
