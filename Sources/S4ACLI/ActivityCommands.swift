import ArgumentParser
import Foundation
import OpenAPIRuntime
import S4AClient
import S4AContract
import S4ADomain
import S4AStore

struct ActivityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activity", abstract: "The activity log: what changed, who did it; and an offline chain check.",
        subcommands: [List.self, Export.self, Verify.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recent events, newest first.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Only this project's events.") var project: String?
        @Option(help: "Only this action, e.g. project.created.") var action: String?
        @Option(help: "How many events (1–200).") var limit = 50

        func run() async throws {
            let events = try await withConnection(client) { connection in
                switch try await connection.client.listActivity(query: .init(projectId: project, action: action, limit: limit)) {
                case .ok(let ok): return try ok.body.json.items
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { return try Output.json(events) }
            Output.table(["at", "action", "actor", "target"], events.map {
                [Output.date($0.at), $0.action, "\($0.actor._type.rawValue):\($0.actor.id)", "\($0.target._type):\($0.target.id)"]
            })
        }
    }

    /// Streams the export to a file or stdout as it arrives.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download the account's events in chain order, with their hashes, as JSON Lines or CSV.",
            discussion: "Example: s4a activity export --format csv --since 2026-01-01T00:00:00Z -o activity.csv")
        @OptionGroup var client: ClientOptions
        @Option(help: "jsonl or csv.") var format = "jsonl"
        @Option(help: "Only events at or after this RFC 3339 time.") var since: String?
        @Option(help: "Only events at or before this RFC 3339 time.") var until: String?
        @Option(name: [.short, .customLong("output")], help: "Write to this file instead of stdout.") var output: String?

        func run() async throws {
            guard let format = Operations.ExportActivity.Input.Query.FormatPayload(rawValue: format) else {
                throw ValidationError("--format takes jsonl or csv")
            }
            let transcoder = RFC3339DateTranscoder()
            func time(_ text: String?, _ name: String) throws -> Date? {
                guard let text else { return nil }
                guard let date = try? transcoder.decode(text) else { throw ValidationError("--\(name) takes an RFC 3339 time") }
                return date
            }
            let query = Operations.ExportActivity.Input.Query(format: format, since: try time(since, "since"),
                                                              until: try time(until, "until"))
            let output = self.output
            try await withConnection(client) { connection in
                switch try await connection.client.exportActivity(query: query) {
                case .ok(let ok):
                    let body: HTTPBody
                    switch ok.body {
                    case .applicationXNdjson(let b): body = b
                    case .csv(let b): body = b
                    }
                    _ = try await Output.save(body, to: output)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
        }
    }

    struct VerifyReport: Encodable {
        var ok: Bool
        var accounts: Int
        var events: Int
        var brokenEventID: String?
        var broken: String?

        enum CodingKeys: String, CodingKey {
            case ok, accounts, events, brokenEventID = "broken_event_id", broken
        }
    }

    /// Reads the store directly (no server needed) and recomputes every account's chain.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the activity hash chains offline; report the first broken link.",
            discussion: "Exit code 0 when every chain is intact, 1 when one is broken.")
        @Option(help: "The data directory whose SQLite store to check.") var dataDir = "./.s4a"
        @Option(help: "A postgres:// URL to check instead (S4A_DATABASE_URL).") var databaseURL: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let url = databaseURL ?? ProcessInfo.processInfo.environment["S4A_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
            let path = URL(fileURLWithPath: dataDir).appendingPathComponent("s4a.sqlite").path
            let store = try await SQLStore.open(url: url, sqlitePath: path, migrate: false)
            let result: (accounts: Int, events: Int, broken: ActivityChain.Break?)
            do {
                result = try await store.read { tx in
                    var events = 0
                    let accounts = try await tx.accountIDsWithActivity()
                    for account in accounts {
                        let chain = try await tx.chain(accountID: account)
                        events += chain.count
                        if let broken = ActivityChain.verify(chain) { return (accounts.count, events, broken) }
                    }
                    return (accounts.count, events, nil)
                }
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            if json {
                try Output.json(VerifyReport(ok: result.broken == nil, accounts: result.accounts, events: result.events,
                                             brokenEventID: result.broken?.eventID, broken: result.broken?.description))
            }
            if let broken = result.broken {
                if !json { print("BROKEN: \(broken)") }
                throw CommandFailure(message: "activity chain broken at \(broken.eventID)")
            }
            if !json { print("OK: \(result.events) events in \(result.accounts) account chains verified.") }
        }
    }
}
