import Foundation
import S4AContract
import S4ADomain

extension APIHandler {
    func createAPIKey(_ input: Operations.CreateAPIKey.Input) async throws -> Operations.CreateAPIKey.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let budget = try body.maxServerBudgetUsd.map { try Self.money($0, field: "max_server_budget_usd") }
        let total = try body.maxTotalBudgetUsd.map { try Self.money($0, field: "max_total_budget_usd") }
        let scopes = try Set(body.scopes.map { scope in
            guard let domain = Scope(rawValue: scope.rawValue) else { throw DomainError.invalid("scopes", "unknown scope") }
            return domain
        })
        let request = NewAPIKey(name: body.name, scopes: scopes, projectIDs: body.projectIds.map(Set.init),
                                expiresAt: body.expiresAt, maxServerBudget: budget, maxTotalBudget: total,
                                maxServers: body.maxServers)
        let (key, token) = try await keys.create(try RequestScope.requirePrincipal(), request)
        return .created(.init(body: .json(.init(key: Self.contract(key), token: token))))
    }

    func listAPIKeys(_ input: Operations.ListAPIKeys.Input) async throws -> Operations.ListAPIKeys.Output {
        let page = try await keys.list(try RequestScope.requirePrincipal(), cursor: input.query.cursor,
                                       limit: try Self.limit(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map(Self.contract), nextCursor: page.nextCursor))))
    }

    func revokeAPIKey(_ input: Operations.RevokeAPIKey.Input) async throws -> Operations.RevokeAPIKey.Output {
        try await keys.revoke(try RequestScope.requirePrincipal(), id: input.path.keyId)
        return .noContent(.init())
    }

    /// What the request's own credentials may do (scope `any`): the key without its token,
    /// or every scope for a session.
    func getCurrentCredential(_ input: Operations.GetCurrentCredential.Input) async throws
        -> Operations.GetCurrentCredential.Output {
        let principal = try RequestScope.requirePrincipal()
        let scopes = principal.scopes.sorted().compactMap { Components.Schemas.Scope(rawValue: $0.rawValue) }
        let body = Components.Schemas.CurrentCredential(
            _type: principal.isSession ? .session : .apiKey, scopes: scopes,
            key: principal.apiKey.map(Self.contract))
        return .ok(.init(body: .json(body)))
    }

    /// Never the token or its hash: only the visible prefix.
    static func contract(_ key: APIKey) -> Components.Schemas.APIKey {
        Components.Schemas.APIKey(
            id: key.id, name: key.name, prefix: key.prefix,
            scopes: key.scopes.sorted().compactMap { Components.Schemas.Scope(rawValue: $0.rawValue) },
            projectIds: key.projectIDs?.sorted(), expiresAt: key.expiresAt,
            maxServerBudgetUsd: key.maxServerBudget?.decimal, maxTotalBudgetUsd: key.maxTotalBudget?.decimal,
            maxServers: key.maxServers, createdAt: key.createdAt,
            lastUsedAt: key.lastUsedAt, revokedAt: key.revokedAt)
    }
}
