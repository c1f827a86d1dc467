import Foundation

/// The archive: `s4a-export/` with JSON for the small records, JSON Lines for the large ones
/// (spooled to a file each, so a tar header can carry its size, then streamed), and with
/// `include_files` each running server's files under `files/<server>/`. No
/// record carries a secret value, a token or a hash of one.
extension ExportService {
    static let root = "s4a-export/"

    public func writeArchive(_ link: ExportLink, to tar: TarWriter) async throws {
        let accountID = link.accountID
        guard let account = try await env.store.read({ tx in try await tx.accounts.account(id: accountID) }) else {
            throw DomainError(.gone, "The account is gone.")
        }
        let encoder = Self.encoder()
        func json(_ value: some Encodable) throws -> [UInt8] { Array(try encoder.encode(value)) + [0x0a] }

        try await tar.directory(Self.root)
        try await tar.file(Self.root + "account.json", try json(AccountRecord(
            id: account.id, email: account.email, created_at: account.createdAt,
            spending_limit_usd: account.spendingLimit?.decimal)))

        let (projects, servers, keys) = try await env.store.read { tx in
            var projects: [Project] = [], keys: [APIKey] = []
            var cursor: String?
            repeat {
                let page = try await tx.projects.projects(accountID: accountID, only: nil, cursor: cursor, limit: 200)
                projects += page.items
                cursor = page.nextCursor
            } while cursor != nil
            repeat {
                let page = try await tx.keys.apiKeys(accountID: accountID, cursor: cursor, limit: 200)
                keys += page.items
                cursor = page.nextCursor
            } while cursor != nil
            return (projects, try await tx.exports.allServers(accountID: accountID), keys)
        }
        try await tar.file(Self.root + "projects.json", try json(projects.map {
            ProjectRecord(id: $0.id, name: $0.name, slug: $0.slug, url: env.settings.projectURL($0.slug),
                          visibility: $0.visibility.rawValue, attached_server_id: $0.attachedServerID,
                          created_at: $0.createdAt, updated_at: $0.updatedAt)
        }))
        try await tar.file(Self.root + "servers.json", try json(servers.map {
            ServerRecord(id: $0.id, project_id: $0.projectID, name: $0.name, template: $0.template, cpu_millis: $0.cpuMillis,
                         memory_mb: $0.memoryMB, disk_mb: $0.diskMB, budget_usd: $0.budget.decimal,
                         network: $0.network.rawValue, state: $0.state.rawValue, last_error: $0.lastError,
                         created_by_key_id: $0.createdByKeyID, created_at: $0.createdAt, updated_at: $0.updatedAt)
        }))
        // Never the token nor its hash: what the key list shows.
        try await tar.file(Self.root + "api_keys.json", try json(keys.map {
            APIKeyRecord(id: $0.id, name: $0.name, prefix: $0.prefix, scopes: $0.scopes.map(\.rawValue).sorted(),
                         project_ids: $0.projectIDs?.sorted(), parent_key_id: $0.parentKeyID, expires_at: $0.expiresAt,
                         max_server_budget_usd: $0.maxServerBudget?.decimal, max_total_budget_usd: $0.maxTotalBudget?.decimal,
                         max_servers: $0.maxServers, created_at: $0.createdAt,
                         last_used_at: $0.lastUsedAt, revoked_at: $0.revokedAt)
        }))
        // Names and scopes only: the sealed values stay behind.
        var secrets: [SecretRecordExport] = []
        for project in projects {
            let records = try await env.store.read { tx in try await tx.vault.secrets(projectID: project.id, serverID: nil) }
            secrets += records.map {
                SecretRecordExport(project_id: $0.address.projectID, server_id: $0.address.serverID, name: $0.address.name,
                                   scope: $0.address.scope, version: $0.version, created_at: $0.createdAt, updated_at: $0.updatedAt)
            }
        }
        try await tar.file(Self.root + "secrets.json", try json(secrets))

        try await spooled(Self.root + "activity.jsonl", tar) { line in
            try await Self.paged(from: Int64(0), next: \ActivityEvent.seq, read: { after in
                try await env.store.read { tx in try await tx.activity.activity(in: ActivityRange(accountID: accountID, afterSeq: after, limit: 500)) }
            }) { event in
                // The audit export's own lines: one shape, and times to the millisecond the chain hashes.
                try line(Data(ActivityExport.json(event)))
            }
        }
        try await spooled(Self.root + "runs.jsonl", tar) { line in
            for server in servers {
                // A few at a time: each may hold a MiB of output per stream.
                try await Self.paged(from: String?.none, next: { (run: Run) in run.id }, read: { after in
                    try await env.store.read { tx in try await tx.exports.runsWithOutput(serverID: server.id, after: after, limit: 8) }
                }) { run in
                    try line(try encoder.encode(RunRecord(
                        id: run.id, server_id: run.serverID, kind: run.kind, command: run.command, state: run.state.rawValue,
                        exit_code: run.exitCode, stdout: run.stdout, stderr: run.stderr, truncated: run.truncated,
                        cpu_micros: run.cpuMicros, started_at: run.startedAt, finished_at: run.finishedAt)))
                }
            }
        }
        for server in servers where server.state != .deleted {
            try await spooled(Self.root + "logs/\(server.id).jsonl", tar) { line in
                let lines = (try? await runtime.readLogs(server.id, after: nil).lines) ?? []
                for entry in lines {
                    try line(try encoder.encode(LogRecord(time: entry.time, stream: entry.stream.rawValue,
                                                          process: entry.process, text: entry.text)))
                }
            }
        }
        try await spooled(Self.root + "usage.jsonl", tar) { line in
            for server in servers {
                try await Self.paged(from: Date?.none, next: { (sample: UsageSample) in sample.at }, read: { after in
                    try await env.store.read { tx in try await tx.exports.usageSamples(serverID: server.id, after: after, limit: 1000) }
                }) { sample in
                    try line(try encoder.encode(UsageRecord(
                        server_id: sample.serverID, at: sample.at, cpu_micros: sample.cpuMicros, memory_bytes: sample.memoryBytes,
                        pids: sample.pids, disk_bytes: sample.diskBytes, net_rx_bytes: sample.networkReceivedBytes,
                        net_tx_bytes: sample.networkSentBytes, charged_usd: sample.charged.decimal)))
                }
            }
        }
        try await spooled(Self.root + "ledger.jsonl", tar) { line in
            for entry in try await env.store.read({ tx in try await tx.exports.ledgerEntries(accountID: accountID) }) {
                try line(try encoder.encode(LedgerRecord(id: entry.id, server_id: entry.serverID, lease_id: entry.entry.leaseID,
                                                         kind: entry.entry.kind.rawValue, amount_usd: entry.entry.amount.decimal,
                                                         created_at: entry.createdAt)))
            }
        }
        var files: [String: String] = [:]
        if link.includeFiles {
            for server in servers where server.state != .deleted {
                files[server.id] = try await serverFiles(server, tar)
            }
        }
        try await tar.file(Self.root + "manifest.json", try json(Manifest(
            format: "s4a-export/1", account_id: account.id, created_at: env.now(), include_files: link.includeFiles,
            files: link.includeFiles ? files : nil,
            note: "Secret values, API key tokens and their hashes are never exported. Logs and usage go back as far as retention keeps them.")))
        try await tar.finish()
    }

    /// Reads a table a page (one store read) at a time, each page after the last one's position,
    /// and hands over its items one by one.
    static func paged<Position: Sendable, Item: Sendable>(
        from start: Position, next: (Item) -> Position,
        read: @Sendable (Position) async throws -> [Item], each: (Item) throws -> Void) async throws {
        var position = start
        while true {
            let items = try await read(position)
            guard let last = items.last else { return }
            for item in items { try each(item) }
            position = next(last)
        }
    }

    /// Writes what `produce` emits, a line at a time, to a spool file, then streams that file
    /// as one tar entry: a tar header needs the size first, and memory stays one buffer.
    func spooled(_ name: String, _ tar: TarWriter,
                 _ produce: (_ line: (Data) throws -> Void) async throws -> Void) async throws {
        try FileManager.default.createDirectory(atPath: spoolDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let path = spoolDirectory + "/" + UUID().uuidString + ".jsonl"
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let writer = FileHandle(forWritingAtPath: path) else {
            throw DomainError(.runtimeFailed, "Cannot write the export's spool file.")
        }
        defer { try? FileManager.default.removeItem(atPath: path) }
        var buffer = Data()
        var size = 0
        do {
            try await produce { line in
                buffer.append(line)
                buffer.append(0x0a)
                if buffer.count >= 1 << 16 {
                    try writer.write(contentsOf: buffer)
                    size += buffer.count
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            try writer.write(contentsOf: buffer)
            size += buffer.count
            try writer.close()
        } catch {
            try? writer.close()
            throw error
        }
        guard let reader = FileHandle(forReadingAtPath: path) else { throw DomainError(.runtimeFailed, "Cannot read the spool file.") }
        defer { try? reader.close() }
        try await tar.file(name, size: size) {
            guard let data = try reader.read(upToCount: 1 << 16), !data.isEmpty else { return nil }
            return Array(data)
        }
    }

    /// Writes the server's own filesystem (its disk: not /proc, /sys, /dev, /tmp or the host's
    /// read-only /usr) under `files/<server>/`, read from the host through the runtime's
    /// `ServerFilesystem` (nothing of the server's runs) as fast as the download goes; every
    /// name is checked to be relative, without `..` and under that prefix. Returns what the
    /// manifest says of it.
    func serverFiles(_ server: Server, _ tar: TarWriter) async throws -> String {
        guard (try? await runtime.status(server.id)) == .running else { return "skipped: the server is not running" }
        let prefix = Self.root + "files/" + server.id + "/"
        let tree: any ServerTreeArchive
        do {
            tree = try await runtime.archive(ContainerSpec(server: server), directory: "/", prefix: prefix)
        } catch {
            return "skipped: the server's files could not be opened"
        }
        let summary = try await tree.write(to: tar)
        return summary.skipped == 0 ? "included" : "included; \(summary.skipped) entries left out (special files, unreadable or non-UTF-8 names)"
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.rfc3339(date))
        }
        return encoder
    }
}

// The archive's records: field names as the API spells them.
private struct AccountRecord: Encodable {
    let id: String, email: String, created_at: Date, spending_limit_usd: String?
}
private struct ProjectRecord: Encodable {
    let id: String, name: String, slug: String, url: String, visibility: String, attached_server_id: String?
    let created_at: Date, updated_at: Date
}
private struct ServerRecord: Encodable {
    let id: String, project_id: String, name: String, template: String, cpu_millis: Int, memory_mb: Int, disk_mb: Int
    let budget_usd: String, network: String, state: String, last_error: String?, created_by_key_id: String?, created_at: Date
    let updated_at: Date
}
private struct APIKeyRecord: Encodable {
    let id: String, name: String, prefix: String, scopes: [String], project_ids: [String]?, parent_key_id: String?
    let expires_at: Date?, max_server_budget_usd: String?, max_total_budget_usd: String?, max_servers: Int?, created_at: Date
    let last_used_at: Date?, revoked_at: Date?
}
private struct SecretRecordExport: Encodable {
    let project_id: String, server_id: String?, name: String, scope: String, version: Int, created_at: Date, updated_at: Date
}
private struct RunRecord: Encodable {
    let id: String, server_id: String, kind: String, command: String, state: String, exit_code: Int?
    let stdout: String, stderr: String, truncated: Bool, cpu_micros: Int64?, started_at: Date, finished_at: Date?
}
private struct LogRecord: Encodable {
    let time: Date, stream: String, process: String, text: String
}
private struct UsageRecord: Encodable {
    let server_id: String, at: Date, cpu_micros: Int64, memory_bytes: Int64, pids: Int64, disk_bytes: Int64
    let net_rx_bytes: Int64, net_tx_bytes: Int64, charged_usd: String
}
private struct LedgerRecord: Encodable {
    let id: String, server_id: String, lease_id: String, kind: String, amount_usd: String, created_at: Date
}
private struct Manifest: Encodable {
    let format: String, account_id: String, created_at: Date, include_files: Bool, files: [String: String]?, note: String
}
