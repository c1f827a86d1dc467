import Foundation

public struct ProjectChanges: Sendable {
    public var name: String?
    public var visibility: Visibility?
    public init(name: String? = nil, visibility: Visibility? = nil) {
        self.name = name
        self.visibility = visibility
    }
}

/// Projects: private at birth, with a slug (and so a URL) fixed for life.
public struct ProjectService: Sendable {
    let env: DomainEnvironment
    public init(env: DomainEnvironment) { self.env = env }

    public func url(of project: Project) -> String { env.settings.projectURL(project.slug) }

    public func create(_ principal: Principal, name rawName: String, slug requested: String?) async throws -> Project {
        try principal.check(.scope(.projectsWrite))
        guard principal.projectIDs == nil else {
            throw DomainError(.forbidden, "A key restricted to some projects cannot create projects.")
        }
        let name = try Self.validName(rawName)
        if let requested, let problem = Slug.problem(with: requested) {
            throw DomainError.invalid("slug", problem)
        }
        let now = env.now()
        // A generated slug that happens to be taken is drawn again; a requested one is refused.
        for _ in 0..<5 {
            let slug = requested ?? Slug.generate(from: name)
            let project = Project(id: RandomToken.id(.project), accountID: principal.accountID, name: name, slug: slug,
                                  visibility: .private, createdAt: now, updatedAt: now)
            do {
                try await env.store.write { tx in
                    try await tx.lockAccount(id: principal.accountID)
                    guard try await tx.projects.project(slug: slug) == nil else { throw UniqueViolation("slug") }
                    try await tx.projects.insert(project)
                    try await tx.activity.append(
                        ActivityRecord(action: Action.projectCreated, actor: principal.actor,
                                       target: Target(type: "project", id: project.id), projectID: project.id,
                                       metadata: ["name": name, "slug": slug]),
                        accountID: principal.accountID, at: now)
                }
                return project
            } catch is UniqueViolation where requested == nil {
                continue
            } catch is UniqueViolation {
                throw DomainError(.slugTaken, "The slug \(slug) is taken.",
                                  fields: [.init(field: "slug", message: "is taken")])
            }
        }
        throw DomainError(.conflict, "Could not find a free slug; name one.")
    }

    public func get(_ principal: Principal, id: String) async throws -> Project {
        try principal.check(.scope(.projectsRead))
        return try await env.store.read { tx in try await tx.reachableProject(id, by: principal) }
    }

    public func list(_ principal: Principal, cursor: String?, limit: Int) async throws -> Page<Project> {
        try principal.check(.scope(.projectsRead))
        return try await env.store.read { tx in
            try await tx.projects.projects(accountID: principal.accountID, only: principal.projectIDs, cursor: cursor, limit: limit)
        }
    }

    /// One PATCH, at most one event: `project.visibility_changed` if the visibility moved,
    /// else `project.updated`; nothing when nothing changed.
    public func update(_ principal: Principal, id: String, _ changes: ProjectChanges) async throws -> Project {
        try principal.check(.scope(.projectsWrite))
        if changes.visibility != nil { try principal.check(.scope(.projectsPublish)) }
        let name = try changes.name.map(Self.validName)
        let now = env.now()
        return try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            var project = try await tx.reachableProject(id, by: principal)
            let before = project
            if let name { project.name = name }
            if let visibility = changes.visibility { project.visibility = visibility }
            guard project != before else { return project }
            project.updatedAt = now
            try await tx.projects.update(project)
            var metadata: [String: String] = [:]
            if project.name != before.name { metadata["name"] = project.name }
            let action: String
            if project.visibility != before.visibility {
                action = Action.projectVisibilityChanged
                metadata["from"] = before.visibility.rawValue
                metadata["to"] = project.visibility.rawValue
            } else {
                action = Action.projectUpdated
            }
            try await tx.activity.append(
                ActivityRecord(action: action, actor: principal.actor, target: Target(type: "project", id: project.id),
                               projectID: project.id, metadata: metadata),
                accountID: principal.accountID, at: now)
            return project
        }
    }

    /// Puts a server of the project behind its URL (`server.attached`), or with nil takes the
    /// attached one away (`server.detached`). Serving still needs the project to be public.
    public func attach(_ principal: Principal, id: String, serverID: String?) async throws -> Project {
        try principal.check(.scope(.projectsWrite))
        let now = env.now()
        return try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            var project = try await tx.reachableProject(id, by: principal)
            let previous = project.attachedServerID
            if let serverID {
                guard let server = try await tx.servers.server(id: serverID, accountID: principal.accountID),
                      server.projectID == project.id else {
                    throw DomainError.unprocessable("server_id", "is not a server of this project")
                }
            }
            guard previous != serverID else { return project }
            project.attachedServerID = serverID
            project.updatedAt = now
            try await tx.projects.update(project)
            if let previous {
                try await tx.activity.append(
                    ActivityRecord(action: Action.serverDetached, actor: principal.actor, target: Target(type: "server", id: previous),
                                   projectID: project.id, metadata: ["project_id": project.id]),
                    accountID: principal.accountID, at: now)
            }
            if let serverID {
                try await tx.activity.append(
                    ActivityRecord(action: Action.serverAttached, actor: principal.actor, target: Target(type: "server", id: serverID),
                                   projectID: project.id, metadata: ["project_id": project.id]),
                    accountID: principal.accountID, at: now)
            }
            return project
        }
    }

    /// `before` runs once the project is known to be the caller's (its servers are destroyed there).
    public func delete(_ principal: Principal, id: String,
                       before: @Sendable (Project) async throws -> Void = { _ in }) async throws {
        try principal.check(.scope(.projectsWrite))
        try await before(try await env.store.read { tx in try await tx.reachableProject(id, by: principal) })
        let now = env.now()
        try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            let project = try await tx.reachableProject(id, by: principal)
            try await tx.projects.deleteProject(id: project.id)
            try await tx.activity.append(
                ActivityRecord(action: Action.projectDeleted, actor: principal.actor,
                               target: Target(type: "project", id: project.id), projectID: project.id,
                               metadata: ["slug": project.slug]),
                accountID: principal.accountID, at: now)
        }
    }

    static func validName(_ raw: String) throws -> String {
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(name.count) else { throw DomainError.invalid("name", "must be 1 to 100 characters") }
        return name
    }
}
