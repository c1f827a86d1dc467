import S4AClient
import S4AContract

/// A project named by its id (`prj_…`, used as is) or its slug (looked up among the
/// projects the key can see).
enum ProjectReference {
    static func id(_ reference: String, _ connection: APIConnection) async throws -> String {
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
        throw ToolInputError("No project with the id or slug '\(reference)' (list_projects shows them).")
    }
}
