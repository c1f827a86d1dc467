import Foundation

/// Where a request to a project's URL goes. Everything that must not be told apart from an
/// unknown slug — a private project, no attached server — is `.notServed`.
public enum IngressTarget: Sendable, Equatable {
    case notServed
    /// Public with a server attached, but nothing to send the request to (stopped, no app).
    case unavailable(serverID: String)
    case app(serverID: String, port: Int)
}

/// Resolves a project URL's slug to the app behind it, on every request: a visibility flip or
/// a detach takes effect on the very next request, kept-alive connections included.
public struct IngressService: Sendable {
    let env: DomainEnvironment

    public init(env: DomainEnvironment) {
        self.env = env
    }

    /// `grant`: a checked preview grant for this slug, which opens the project if it is still
    /// that account's (public or not).
    public func target(slug: String, grant: PreviewGrant? = nil) async throws -> IngressTarget {
        guard Slug.problem(with: slug) == nil else { return .notServed }
        return try await env.store.read { tx in
            var found = try await tx.projects.publicProject(slug: slug)
            if found == nil, let grant, grant.slug == slug,
               let granted = try await tx.projects.project(id: grant.projectID, accountID: grant.accountID), granted.slug == slug {
                found = granted
            }
            guard let project = found, let serverID = project.attachedServerID,
                  let server = try await tx.servers.server(id: serverID, accountID: project.accountID) else { return .notServed }
            guard server.state == .running, let deployment = try await tx.deployments.currentDeployment(serverID: server.id) else {
                return .unavailable(serverID: server.id)
            }
            return .app(serverID: server.id, port: deployment.port)
        }
    }

    /// The slugs whose URLs serve now (public projects): the names that get their own
    /// certificate when ACME is configured.
    public func publicSlugs() async throws -> [String] {
        try await env.store.read { tx in try await tx.projects.publicProjectSlugs() }
    }
}
