import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain

extension Pages {
    func addKeys() {
        get("/keys") { visit in
            async let keys = services.keys.list(visit.principal, cursor: nil, limit: 200)
            async let projects = services.projects.list(visit.principal, cursor: nil, limit: 200)
            let names = Dictionary(try await projects.items.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            return .view("keys", KeysPage(
                title: "API keys",
                scopes: Scope.allCases.map { .init(name: $0.rawValue, isDefault: Self.defaultScopes.contains($0)) },
                projects: try await projects.items.map { Choice(value: $0.id, label: $0.name, selected: false) },
                keys: try await keys.items.map { key in
                    .init(id: key.id, name: key.name, prefix: key.prefix,
                          scopes: key.scopes.sorted().map(\.rawValue).joined(separator: " "),
                          projects: key.projectIDs.map { ids in ids.map { names[$0] ?? $0 }.sorted().joined(separator: ", ") } ?? "all",
                          limits: Self.limits(key),
                          created: Format.time(key.createdAt), lastUsed: Format.time(key.lastUsedAt),
                          expires: Format.time(key.expiresAt), revoked: key.revokedAt != nil)
                }))
        }
        post("/keys", back: { _ in "/keys" }) { visit in
            let scopes = try Set(visit.form.all("scope").map { raw in
                guard let scope = Scope(rawValue: raw) else { throw DomainError.invalid("scope", "unknown scope \(raw)") }
                return scope
            })
            let projects = Set(visit.form.all("project").filter { !$0.isEmpty })
            let ceiling = try visit.form.money("max_server_budget_usd")
            let total = try visit.form.money("max_total_budget_usd")
            var maxServers: Int?
            if let text = visit.form.text("max_servers") {
                guard let count = Int(text) else { throw DomainError.invalid("max_servers", "must be a whole number") }
                maxServers = count
            }
            var expiresAt: Date?
            if let text = visit.form.text("expires_days") {
                guard let days = Int(text), (1...3650).contains(days) else {
                    throw DomainError.invalid("expires_days", "must be 1 to 3650 days")
                }
                expiresAt = Date().addingTimeInterval(Double(days) * 86400)
            }
            let (key, token) = try await services.keys.create(
                visit.principal, NewAPIKey(name: visit.form["name"] ?? "", scopes: scopes,
                                           projectIDs: projects.isEmpty ? nil : projects, expiresAt: expiresAt,
                                           maxServerBudget: ceiling, maxTotalBudget: total, maxServers: maxServers))
            // Shown on this answer only: the page is not stored (no-store) and the token cannot be fetched again.
            return .view("key_created", KeyCreatedPage(
                title: "Key created", name: key.name, token: token,
                scopes: key.scopes.sorted().map(\.rawValue).joined(separator: " "),
                mcpConfiguration: dashboard.client.mcpConfiguration(token: token),
                environment: dashboard.client.environmentBlock(token: token)), status: .created)
        }
        post("/keys/{id}/revoke", back: { _ in "/keys" }) { visit in
            try await services.keys.revoke(visit.principal, id: try visit.parameter("id"))
            return .redirect("/keys", .ok("Key revoked: its next request fails."))
        }
    }

    static func limits(_ key: APIKey) -> String {
        let parts = [key.maxServerBudget.map { "\(Format.money($0)) per server" },
                     key.maxTotalBudget.map { "\(Format.money($0)) in total" },
                     key.maxServers.map { $0 == 1 ? "1 server" : "\($0) servers" }].compactMap { $0 }
        return parts.isEmpty ? "none" : parts.joined(separator: " · ")
    }

    static var defaultScopes: Set<Scope> { [.projectsRead, .serversRead, .serversWrite, .serversExec, .activityRead] }
}
