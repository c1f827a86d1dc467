import ArgumentParser
import Foundation
import OpenAPIRuntime
import S4AClient
import S4AContract
import S4AServer
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
        @Option(help: "Only events at or after this time (RFC 3339, or a duration ago: 10m, 6h, 7d).") var since: String?
        @Option(help: "Only events at or before this RFC 3339 time.") var until: String?
        @Option(name: [.short, .customLong("output")], help: "Write to this file instead of stdout.") var output: String?

        func run() async throws {
            guard let format = Operations.ExportActivity.Input.Query.FormatPayload(rawValue: format) else {
                throw ValidationError("--format takes jsonl or csv")
            }
            let query = Operations.ExportActivity.Input.Query(format: format, since: try TimeArgument.parse(since, "since"),
                                                              until: try TimeArgument.parse(until, "until"))
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
        struct Failure: Encodable {
            var check: String
            var accountID: String
            var seq: Int64
            var eventID: String?
            var detail: String
            enum CodingKeys: String, CodingKey {
                case check, accountID = "account_id", seq, eventID = "event_id", detail
            }
        }
        struct Checkpoints: Encodable {
            var path: String
            var accounts: Int
            var deletedAccounts: Int
            var unreadableLines: Int
            var otherKeyLines: Int
            enum CodingKeys: String, CodingKey {
                case path, accounts, deletedAccounts = "deleted_accounts", unreadableLines = "unreadable_lines"
                case otherKeyLines = "other_key_lines"
            }
        }
        var ok: Bool
        var accounts: Int
        var events: Int
        var brokenEventID: String?
        var broken: String?
        var failures: [Failure]
        var checkpoints: Checkpoints
        var publicKey: String

        enum CodingKeys: String, CodingKey {
            case ok, accounts, events, brokenEventID = "broken_event_id", broken, failures, checkpoints
            case publicKey = "public_key"
        }
    }

    /// Reads the store and the checkpoint file directly (no server needed): every account's
    /// hash chain, every event's MAC (with the master key, read as `s4a serve` reads it), and
    /// each chain against its latest checkpoint.
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the activity trail offline: hash chains, MACs and checkpoints; report what failed.",
            discussion: """
            Each failure names its check (hash chain; MAC; checkpoint: truncated, rewritten, missing account, \
            forged line), the account and the event's seq. Exit code 0 when all hold, 1 when one fails.
            """)
        @Option(help: "The data directory: its SQLite store, master.key and audit/checkpoints.jsonl.") var dataDir = "./.s4a"
        @Option(help: "A postgres:// URL to check instead of the SQLite store (S4A_DATABASE_URL).") var databaseURL: String?
        @Option(help: "The master key file (S4A_MASTER_KEY_FILE, or S4A_MASTER_KEY; default <data-dir>/master.key).")
        var masterKeyFile: String?
        @Option(help: "The checkpoint file (default <data-dir>/audit/checkpoints.jsonl).") var checkpoints: String?
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            func pick(_ variable: String) -> String? { environment[variable].flatMap { $0.isEmpty ? nil : $0 } }
            var options = ServeOptions()
            options.dataDirectory = dataDir
            options.masterKeyFile = masterKeyFile ?? pick("S4A_MASTER_KEY_FILE")
            options.masterKeyBase64 = pick("S4A_MASTER_KEY")
            let master: MasterKey
            do {
                master = try MasterKeyFile.loadExisting(options)
            } catch {
                throw CommandFailure(message: "\(error) The MACs and checkpoints cannot be checked without the master key.")
            }
            let keys = try AuditKeys(master: master)
            let file = checkpoints.map(CheckpointFile.init(path:)) ?? CheckpointFile.inDataDirectory(dataDir)
            let log = try file.read(keys: keys)
            let url = databaseURL ?? pick("S4A_DATABASE_URL")
            let store = try await SQLStore.open(url: url, sqlitePath: options.sqlitePath, migrate: false, auditKeys: keys)
            let result: (accounts: Int, events: Int, findings: [AuditFinding])
            do {
                guard try await store.isCurrent() else {
                    throw CommandFailure(message: """
                        The store predates this version (its events have no MACs yet): start s4a serve on it once, \
                        which seals them, then verify again.
                        """)
                }
                let fingerprint = master.fingerprint
                result = try await store.read { tx in
                    if let sealed = try await tx.vault.vaultFingerprint(), sealed != fingerprint {
                        throw CommandFailure(message: "The master key (fingerprint \(fingerprint)) is not this store's (\(sealed)).")
                    }
                    var events = 0
                    var findings: [AuditFinding] = []
                    let accounts = try await tx.activity.accountIDsWithActivity()
                    for account in accounts {
                        let chain = try await tx.activity.chain(accountID: account)
                        events += chain.count
                        let checkpoint = log.deleted.contains(account) ? nil : log.heads[account]
                        findings += AuditVerification.check(chain, keys: keys, checkpoint: checkpoint)
                    }
                    findings += AuditVerification.missing(log, accountsWithEvents: Set(accounts))
                    findings += AuditVerification.forged(log)
                    return (accounts.count, events, findings)
                }
            } catch {
                await store.close()
                throw error
            }
            await store.close()
            let first = result.findings.first
            if json {
                try Output.json(VerifyReport(
                    ok: first == nil, accounts: result.accounts, events: result.events, brokenEventID: first?.eventID,
                    broken: first?.description,
                    failures: result.findings.map {
                        .init(check: $0.check.rawValue, accountID: $0.accountID, seq: $0.seq, eventID: $0.eventID, detail: $0.detail)
                    },
                    checkpoints: .init(path: file.path, accounts: log.heads.count, deletedAccounts: log.deleted.count,
                                       unreadableLines: log.unreadable, otherKeyLines: log.otherKey),
                    publicKey: keys.publicKey))
            } else {
                for finding in result.findings { print("BROKEN: \(finding)") }
                if log.heads.isEmpty && log.deleted.isEmpty {
                    print("note: no checkpoints in \(file.path): truncation and deletion of whole chains cannot be seen.")
                }
                if log.unreadable > 0 { print("note: \(log.unreadable) unreadable checkpoint lines skipped (torn or garbled).") }
                if log.otherKey > 0 { print("note: \(log.otherKey) checkpoints signed under another master key skipped.") }
            }
            if let first {
                throw CommandFailure(message: "activity trail broken: \(first)")
            }
            if !json {
                print("OK: \(result.events) events in \(result.accounts) account chains verified (hash chains, MACs, "
                      + "\(log.heads.count) checkpointed heads).")
            }
        }
    }
}
