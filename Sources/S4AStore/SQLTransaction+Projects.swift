import Foundation
import S4ADomain
import SQLKit

extension SQLTransaction: ProjectRepository {
    func insert(_ project: Project) async throws {
        try await db.raw("""
            INSERT INTO projects (id, account_id, name, slug, visibility, created_at, updated_at)
            VALUES (\(bind: project.id), \(bind: project.accountID), \(bind: project.name), \(bind: project.slug),
                    \(bind: project.visibility.rawValue), \(bind: project.createdAt.millis), \(bind: project.updatedAt.millis))
            """).run()
    }

    func project(id: String, accountID: String) async throws -> Project? {
        try await db.raw("SELECT * FROM projects WHERE id = \(bind: id) AND account_id = \(bind: accountID)")
            .first().map(Self.project)
    }

    func project(slug: String) async throws -> Project? {
        try await db.raw("SELECT * FROM projects WHERE slug = \(bind: slug)").first().map(Self.project)
    }

    func publicProject(slug: String) async throws -> Project? {
        try await db.raw("SELECT * FROM projects WHERE slug = \(bind: slug) AND visibility = 'public'").first().map(Self.project)
    }

    func projects(accountID: String, only: Set<String>?, cursor: String?, limit: Int) async throws -> Page<Project> {
        if let only, only.isEmpty { return Page(items: [], nextCursor: nil) }
        var query = SQLQueryString("SELECT * FROM projects WHERE account_id = \(bind: accountID)")
        if let only { query = query + " AND id IN (\(binds: only.sorted()))" }
        let rows = try await db.raw(try newestFirst(query, after: cursor, limit: limit)).all()
        return try page(rows, limit: limit, decode: Self.project, key: { ($0.createdAt, $0.id) })
    }

    func projectIDs(accountID: String) async throws -> [String] {
        try await db.raw("SELECT id FROM projects WHERE account_id = \(bind: accountID) ORDER BY id").all()
            .map { try $0.string("id") }
    }

    func update(_ project: Project) async throws {
        try await db.raw("""
            UPDATE projects SET name = \(bind: project.name), visibility = \(bind: project.visibility.rawValue),
                updated_at = \(bind: project.updatedAt.millis), attached_server_id = \(bind: project.attachedServerID)
            WHERE id = \(bind: project.id)
            """).run()
    }

    func publicProjectSlugs() async throws -> [String] {
        try await db.raw("SELECT slug FROM projects WHERE visibility = \(bind: Visibility.public.rawValue) ORDER BY slug").all()
            .map { try $0.string("slug") }
    }

    func deleteProject(id: String) async throws {
        try await db.raw("DELETE FROM projects WHERE id = \(bind: id)").run()
    }

    static func project(_ row: any SQLRow) throws -> Project {
        guard let visibility = Visibility(rawValue: try row.string("visibility")) else {
            throw StoreError.corrupt("unknown visibility")
        }
        return Project(id: try row.string("id"), accountID: try row.string("account_id"), name: try row.string("name"),
                       slug: try row.string("slug"), visibility: visibility, createdAt: try row.date("created_at"),
                       updatedAt: try row.date("updated_at"), attachedServerID: try row.optionalString("attached_server_id"))
    }
}
