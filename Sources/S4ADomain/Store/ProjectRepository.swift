import Foundation

/// Projects (the table `projects`).
public protocol ProjectRepository: Sendable {
    func insert(_ project: Project) async throws
    func project(id: String, accountID: String) async throws -> Project?
    func project(slug: String) async throws -> Project?
    /// The project at `slug` if it is public: a private one and an unknown one are the same miss,
    /// in the same query, so the ingress cannot tell them apart by time either.
    func publicProject(slug: String) async throws -> Project?
    func projects(accountID: String, only: Set<String>?, cursor: String?, limit: Int) async throws -> Page<Project>
    /// Every project id of the account.
    func projectIDs(accountID: String) async throws -> [String]
    func update(_ project: Project) async throws
    func deleteProject(id: String) async throws
    /// The slugs of every public project, of every account (the certificates to hold).
    func publicProjectSlugs() async throws -> [String]
}
