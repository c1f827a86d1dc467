import Foundation

public struct NewAPIKey: Sendable {
    public var name: String
    public var scopes: Set<Scope>
    public var projectIDs: Set<String>?
    public var expiresAt: Date?
    public var maxServerBudget: MicroDollars?
    public var maxTotalBudget: MicroDollars?
    public var maxServers: Int?
    public init(name: String, scopes: Set<Scope>, projectIDs: Set<String>? = nil, expiresAt: Date? = nil,
                maxServerBudget: MicroDollars? = nil, maxTotalBudget: MicroDollars? = nil, maxServers: Int? = nil) {
        self.name = name
        self.scopes = scopes
        self.projectIDs = projectIDs
        self.expiresAt = expiresAt
        self.maxServerBudget = maxServerBudget
        self.maxTotalBudget = maxTotalBudget
        self.maxServers = maxServers
    }
}

/// API keys: created with at most their creator's powers, listed without tokens, revoked at once.
public struct APIKeyService: Sendable {
    let env: DomainEnvironment
    public init(env: DomainEnvironment) { self.env = env }

    public func create(_ principal: Principal, _ request: NewAPIKey) async throws -> (key: APIKey, token: String) {
        try principal.check(.scope(.keysWrite))
        let name = request.name.trimmingCharacters(in: .whitespaces)
        guard (1...100).contains(name.count) else { throw DomainError.invalid("name", "must be 1 to 100 characters") }
        guard !request.scopes.isEmpty else { throw DomainError.invalid("scopes", "must name at least one scope") }
        if let total = request.maxTotalBudget, total.value <= 0 {
            throw DomainError.invalid("max_total_budget_usd", "must be more than zero")
        }
        if let count = request.maxServers, !(0...ServerLimits.maxSlots).contains(count) {
            throw DomainError.invalid("max_servers", "must be 0 to \(ServerLimits.maxSlots)")
        }
        let now = env.now()
        if let expiresAt = request.expiresAt, expiresAt <= now {
            throw DomainError.invalid("expires_at", "must be in the future")
        }
        let bounded = try bound(request, by: principal.apiKey)
        if let projectIDs = bounded.projectIDs {
            guard !projectIDs.isEmpty else { throw DomainError.invalid("project_ids", "must not be empty") }
        }
        let token = RandomToken.bearer(prefix: APIKey.tokenPrefix)
        let key = APIKey(id: RandomToken.id(.apiKey), accountID: principal.accountID, parentKeyID: principal.apiKey?.id,
                         name: name, tokenHash: RandomToken.hash(token),
                         prefix: String(token.prefix(APIKey.visiblePrefixLength)), scopes: bounded.scopes,
                         projectIDs: bounded.projectIDs, expiresAt: bounded.expiresAt,
                         maxServerBudget: bounded.maxServerBudget, maxTotalBudget: bounded.maxTotalBudget,
                         maxServers: bounded.maxServers, createdAt: now)
        try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            // Checked again under the account's lock: a key revoked while it made this one
            // (revocation takes the same lock) must not leave a child behind.
            if let parent = principal.apiKey {
                guard let fresh = try await tx.keys.apiKey(id: parent.id, accountID: parent.accountID), fresh.isUsable(at: now) else {
                    throw DomainError.unauthenticated
                }
            }
            for projectID in key.projectIDs ?? [] {
                guard try await tx.projects.project(id: projectID, accountID: principal.accountID) != nil else {
                    throw DomainError(.notFound, "No such project: \(projectID).")
                }
            }
            try await tx.keys.insert(key)
            var metadata = ["name": key.name, "scopes": key.scopes.sorted().map(\.rawValue).joined(separator: " ")]
            if let ids = key.projectIDs { metadata["project_ids"] = ids.sorted().joined(separator: " ") }
            if let total = key.maxTotalBudget { metadata["max_total_budget_usd"] = total.decimal }
            if let count = key.maxServers { metadata["max_servers"] = "\(count)" }
            try await tx.activity.append(
                ActivityRecord(action: Action.apiKeyCreated, actor: principal.actor,
                               target: Target(type: "api_key", id: key.id), metadata: metadata),
                accountID: principal.accountID, at: now)
        }
        return (key, token)
    }

    /// A key creating a key: nothing beyond its own scopes, projects, expiry or budget ceiling.
    /// Whatever the request leaves open is inherited from the creating key.
    func bound(_ request: NewAPIKey, by parent: APIKey?) throws -> NewAPIKey {
        guard let parent else { return request }
        var child = request
        let extra = request.scopes.subtracting(parent.scopes)
        guard extra.isEmpty else {
            throw DomainError(.forbidden, "A key cannot grant scopes it lacks: \(extra.sorted().map(\.rawValue).joined(separator: ", ")).")
        }
        if let allowed = parent.projectIDs {
            let wanted = request.projectIDs ?? allowed
            guard wanted.isSubset(of: allowed) else {
                throw DomainError(.forbidden, "A key cannot grant projects beyond its own.")
            }
            child.projectIDs = wanted
        }
        child.expiresAt = try Self.within(parent.expiresAt, request.expiresAt) { _ in "A key cannot outlive the key that creates it." }
        child.maxServerBudget = try Self.within(parent.maxServerBudget, request.maxServerBudget) {
            "A key cannot allow budgets beyond its own ceiling of \($0.decimal) USD."
        }
        // The servers a key's keys create count against it too (ServerService checks every
        // bounded key up the chain), so a child's own bounds only need to fit within its maker's.
        child.maxTotalBudget = try Self.within(parent.maxTotalBudget, request.maxTotalBudget) {
            "A key cannot allow a total beyond its own \($0.decimal) USD."
        }
        child.maxServers = try Self.within(parent.maxServers, request.maxServers) { "A key cannot allow more servers than its own \($0)." }
        return child
    }

    /// A child's bound under its maker's: the request's if it is no looser, the maker's if the
    /// request leaves it open, none if the maker has none.
    static func within<T: Comparable>(_ limit: T?, _ wanted: T?, _ refusal: (T) -> String) throws -> T? {
        guard let limit else { return wanted }
        let value = wanted ?? limit
        guard value <= limit else { throw DomainError(.forbidden, refusal(limit)) }
        return value
    }

    public func list(_ principal: Principal, cursor: String?, limit: Int) async throws -> Page<APIKey> {
        try principal.check(.scope(.keysWrite))
        return try await env.store.read { tx in
            try await tx.keys.apiKeys(accountID: principal.accountID, cursor: cursor, limit: limit)
        }
    }

    /// A session may revoke any key of its account; a key only itself and the keys it created.
    public func revoke(_ principal: Principal, id: String) async throws {
        try principal.check(.scope(.keysWrite))
        let now = env.now()
        try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            guard let key = try await tx.keys.apiKey(id: id, accountID: principal.accountID) else { throw DomainError.notFound }
            if let caller = principal.apiKey, key.id != caller.id, key.parentKeyID != caller.id {
                throw DomainError.notFound
            }
            // Every key it made goes with it, and theirs: a key cannot outlive its maker's authority.
            for revoked in try await Self.descendants(of: key, tx) where revoked.revokedAt == nil {
                try await tx.keys.revokeAPIKey(id: revoked.id, at: now)
                var metadata = ["name": revoked.name]
                if revoked.id != key.id { metadata["because_revoked"] = key.id }
                try await tx.activity.append(
                    ActivityRecord(action: Action.apiKeyRevoked, actor: principal.actor,
                                   target: Target(type: "api_key", id: revoked.id), metadata: metadata),
                    accountID: principal.accountID, at: now)
            }
        }
    }

    /// `key` and every key made by it or by one of those, transitively (the key first).
    static func descendants(of key: APIKey, _ tx: any StoreTransaction) async throws -> [APIKey] {
        var all: [APIKey] = []
        var cursor: String?
        repeat {
            let page = try await tx.keys.apiKeys(accountID: key.accountID, cursor: cursor, limit: 500)
            all += page.items
            cursor = page.nextCursor
        } while cursor != nil
        let children = Dictionary(grouping: all, by: { $0.parentKeyID ?? "" })
        var found = [key], seen: Set<String> = [key.id], index = 0
        while index < found.count {
            for child in children[found[index].id] ?? [] where seen.insert(child.id).inserted { found.append(child) }
            index += 1
        }
        return found
    }
}
