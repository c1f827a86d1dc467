import ArgumentParser
import Foundation
import S4AClient
import S4AContract

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "API keys for agents: create (token shown once), list, revoke.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key. Its token is printed once; store it now.",
            discussion: "Scopes: \(Components.Schemas.Scope.allCases.map(\.rawValue).joined(separator: ", ")).")

        @OptionGroup var client: ClientOptions
        @Option(help: "A name to recognise the key by.") var name: String
        @Option(name: .customLong("scope"), help: "Scopes to grant: repeat it, or separate them with commas.") var scopes: [String]
        @Option(name: .customLong("project"), help: "Restrict the key to this project, by slug or id (repeatable).")
        var projects: [String] = []
        @Option(help: "Expiry, RFC 3339 (e.g. 2026-12-31T00:00:00Z).") var expiresAt: String?
        @Option(help: "The largest budget, in USD, this key may give a server (e.g. 25.00).") var maxServerBudgetUsd: String?
        @Option(help: "What its servers may cost together, in USD: live caps plus what deleted ones spent (e.g. 20.00).")
        var maxTotalBudgetUsd: String?
        @Option(help: "How many live servers it may have created.") var maxServers: Int?

        func run() async throws {
            let scopes = try scopes.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.map { raw in
                guard let scope = Components.Schemas.Scope(rawValue: raw) else { throw ValidationError("Unknown scope \(raw).") }
                return scope
            }
            let expiry = try expiresAt.map { text in
                guard let date = try? RFC3339DateTranscoder().decode(text) else {
                    throw ValidationError("--expires-at must be RFC 3339, e.g. 2026-12-31T00:00:00Z.")
                }
                return date
            }
            let created = try await withConnection(client) { connection in
                var ids: [String] = []
                for project in projects { ids.append(try await ProjectCommand.find(project, connection).id) }
                let body = Components.Schemas.APIKeyCreate(
                    name: name, scopes: scopes, projectIds: ids.isEmpty ? nil : ids, expiresAt: expiry,
                    maxServerBudgetUsd: maxServerBudgetUsd.map { .Money($0) }, maxTotalBudgetUsd: maxTotalBudgetUsd.map { .Money($0) },
                    maxServers: maxServers)
                switch try await connection.client.createAPIKey(body: .json(body)) {
                case .created(let created): return try created.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { return try Output.json(created) }
            print("Created key \(created.key.id) (\(created.key.name)) with \(created.key.scopes.map(\.rawValue).joined(separator: " ")).")
            print("Token, shown only now:\n\(created.token)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their tokens).")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let keys = try await withConnection(client) { connection in
                try await Pages.collect { cursor in
                    switch try await connection.client.listAPIKeys(query: .init(cursor: cursor, limit: 200)) {
                    case .ok(let ok):
                        let page = try ok.body.json
                        return (page.items, page.nextCursor)
                    case .default(let status, let problem): throw APIProblem(status: status, problem)
                    }
                }
            }
            if client.json { return try Output.json(keys) }
            Output.table(["id", "name", "prefix", "scopes", "last used", "state"], keys.map { key in
                [key.id, key.name, key.prefix + "…", key.scopes.map(\.rawValue).joined(separator: " "),
                 Output.date(key.lastUsedAt), key.revokedAt == nil ? "active" : "revoked"]
            })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key; its next request fails.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The key's id (key_…).") var id: String

        func run() async throws {
            try await withConnection(client) { connection in
                switch try await connection.client.revokeAPIKey(path: .init(keyId: id)) {
                case .noContent: return
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(["revoked": id]) } else { print("Revoked \(id).") }
        }
    }
}

/// Follows `next_cursor` until the last page.
enum Pages {
    static func collect<Item>(_ fetch: (String?) async throws -> ([Item], String?)) async throws -> [Item] {
        var items: [Item] = []
        var cursor: String?
        repeat {
            let (page, next) = try await fetch(cursor)
            items += page
            cursor = next
        } while cursor != nil
        return items
    }
}
