import Foundation
import S4ADomain
import SQLKit

extension SQLTransaction: ServerRepository {
    func insert(_ server: Server) async throws {
        try await db.raw("""
            INSERT INTO servers (id, account_id, project_id, name, template, cpu_millis, memory_mb, disk_mb, pids_limit,
                                 budget_micros, network, state, uid_slot, last_error, created_at, updated_at, created_by_key_id)
            VALUES (\(bind: server.id), \(bind: server.accountID), \(bind: server.projectID), \(bind: server.name),
                    \(bind: server.template), \(bind: server.cpuMillis), \(bind: server.memoryMB), \(bind: server.diskMB),
                    \(bind: server.pidsLimit), \(bind: server.budget.value), \(bind: server.network.rawValue),
                    \(bind: server.state.rawValue), \(bind: server.uidSlot), \(bind: server.lastError),
                    \(bind: server.createdAt.millis), \(bind: server.updatedAt.millis), \(bind: server.createdByKeyID))
            """).run()
    }

    func server(id: String, accountID: String) async throws -> Server? {
        try await db.raw("SELECT * FROM servers WHERE id = \(bind: id) AND account_id = \(bind: accountID) AND state <> 'deleted'")
            .first().map(Self.server)
    }

    func liveServers() async throws -> [Server] {
        try await db.raw("SELECT * FROM servers WHERE state <> 'deleted' ORDER BY created_at").all().map(Self.server)
    }

    func liveServers(accountID: String) async throws -> [Server] {
        try await db.raw("SELECT * FROM servers WHERE account_id = \(bind: accountID) AND state <> 'deleted' ORDER BY created_at")
            .all().map(Self.server)
    }

    func servers(accountID: String, projectIDs: Set<String>?, cursor: String?, limit: Int) async throws -> Page<Server> {
        if let projectIDs, projectIDs.isEmpty { return Page(items: [], nextCursor: nil) }
        var query = SQLQueryString("SELECT * FROM servers WHERE account_id = \(bind: accountID) AND state <> 'deleted'")
        if let projectIDs { query = query + " AND project_id IN (\(binds: projectIDs.sorted()))" }
        let rows = try await db.raw(try newestFirst(query, after: cursor, limit: limit)).all()
        return try page(rows, limit: limit, decode: Self.server, key: { ($0.createdAt, $0.id) })
    }

    /// A deleted server gives its uid block back.
    func update(_ server: Server) async throws {
        let slot: Int? = server.state == .deleted ? nil : server.uidSlot
        try await db.raw("""
            UPDATE servers SET name = \(bind: server.name), budget_micros = \(bind: server.budget.value),
                state = \(bind: server.state.rawValue), uid_slot = \(bind: slot), last_error = \(bind: server.lastError),
                updated_at = \(bind: server.updatedAt.millis)
            WHERE id = \(bind: server.id)
            """).run()
    }

    func freeUIDSlot() async throws -> Int {
        let taken = try await db.raw("SELECT uid_slot FROM servers WHERE uid_slot IS NOT NULL ORDER BY uid_slot").all()
            .map { try $0.int64("uid_slot") }
        var candidate: Int64 = 0
        for slot in taken {
            if slot > candidate { break }
            candidate = slot + 1
        }
        return Int(candidate)
    }

    static func server(_ row: any SQLRow) throws -> Server {
        guard let network = NetworkMode(rawValue: try row.string("network")),
              let state = ServerState(rawValue: try row.string("state")) else { throw StoreError.corrupt("server enum") }
        return Server(
            id: try row.string("id"), projectID: try row.string("project_id"), accountID: try row.string("account_id"),
            name: try row.string("name"), template: try row.string("template"),
            cpuMillis: Int(try row.int64("cpu_millis")), memoryMB: Int(try row.int64("memory_mb")),
            diskMB: Int(try row.int64("disk_mb")), pidsLimit: Int(try row.int64("pids_limit")),
            budget: MicroDollars(try row.int64("budget_micros")), network: network, state: state,
            uidSlot: Int(try row.optionalInt64("uid_slot") ?? -1), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"), lastError: try row.optionalString("last_error"),
            createdByKeyID: try row.optionalString("created_by_key_id"))
    }

    // MARK: Runs

    func insert(_ run: Run) async throws {
        try await db.raw("""
            INSERT INTO runs (id, server_id, account_id, kind, command, state, exit_code, stdout, stderr, truncated,
                              started_at, finished_at, cpu_micros, ended_by, hint)
            VALUES (\(bind: run.id), \(bind: run.serverID), \(bind: run.accountID), \(bind: run.kind), \(bind: run.command),
                    \(bind: run.state.rawValue), \(bind: run.exitCode), \(bind: run.stdout), \(bind: run.stderr),
                    \(bind: run.truncated ? 1 : 0), \(bind: run.startedAt.millis), \(bind: run.finishedAt?.millis),
                    \(bind: run.cpuMicros), \(bind: run.endedBy?.rawValue), \(bind: run.hint))
            """).run()
    }

    func update(_ run: Run) async throws {
        try await db.raw("""
            UPDATE runs SET state = \(bind: run.state.rawValue), exit_code = \(bind: run.exitCode), stdout = \(bind: run.stdout),
                stderr = \(bind: run.stderr), truncated = \(bind: run.truncated ? 1 : 0), finished_at = \(bind: run.finishedAt?.millis),
                cpu_micros = \(bind: run.cpuMicros), ended_by = \(bind: run.endedBy?.rawValue), hint = \(bind: run.hint)
            WHERE id = \(bind: run.id)
            """).run()
        if !run.stdout.isEmpty || !run.stderr.isEmpty { try await trimRunOutputs(serverID: run.serverID) }
    }

    /// Keeps what a server's runs printed within `ServerLimits.runOutputPerServer`: the newest
    /// runs keep their output, older ones lose it (and say so with `truncated`), so a server that
    /// runs commands without end cannot grow the database without end.
    func trimRunOutputs(serverID: String) async throws {
        let rows = try await db.raw("""
            SELECT id, started_at, LENGTH(stdout) + LENGTH(stderr) AS size FROM runs
            WHERE server_id = \(bind: serverID) AND (stdout <> '' OR stderr <> '')
            ORDER BY started_at DESC, id DESC LIMIT \(unsafeRaw: String(ServerLimits.runOutputsPerServer + 1))
            """).all()
        var total: Int64 = 0
        for (index, row) in rows.enumerated() {
            total += try row.int64("size")
            guard total > ServerLimits.runOutputPerServer || index >= ServerLimits.runOutputsPerServer else { continue }
            let startedAt = try row.int64("started_at"), id = try row.string("id")
            try await db.raw("""
                UPDATE runs SET stdout = '', stderr = '', truncated = 1
                WHERE server_id = \(bind: serverID) AND (stdout <> '' OR stderr <> '')
                  AND (started_at < \(bind: startedAt) OR (started_at = \(bind: startedAt) AND id <= \(bind: id)))
                """).run()
            return
        }
    }

    func run(id: String, serverID: String) async throws -> Run? {
        try await db.raw("SELECT * FROM runs WHERE id = \(bind: id) AND server_id = \(bind: serverID)").first().map(Self.run)
    }

    func runs(serverID: String, cursor: String?, limit: Int) async throws -> Page<Run> {
        // Without their output: a list shows runs, GET of one run shows what it printed.
        let query = SQLQueryString("""
            SELECT id, server_id, account_id, kind, command, state, exit_code, '' AS stdout, '' AS stderr, truncated,
                   started_at, finished_at, cpu_micros, ended_by, hint
            FROM runs WHERE server_id = \(bind: serverID)
            """)
        let rows = try await db.raw(try newestFirst(query, by: "started_at", after: cursor, limit: limit)).all()
        return try page(rows, limit: limit, decode: Self.run, key: { ($0.startedAt, $0.id) })
    }

    func deleteRun(id: String) async throws {
        try await db.raw("DELETE FROM runs WHERE id = \(bind: id)").run()
    }

    func loseRunningRuns(at: Date) async throws -> Int {
        // Background runs live on under their supervisors; only those waited for are lost.
        let running = try await db.raw("SELECT COUNT(*) AS n FROM runs WHERE state = 'running' AND kind <> 'background'")
            .first()?.int64("n") ?? 0
        try await db.raw("""
            UPDATE runs SET state = 'lost', finished_at = \(bind: at.millis) WHERE state = 'running' AND kind <> 'background'
            """).run()
        return Int(running)
    }

    static func run(_ row: any SQLRow) throws -> Run {
        guard let state = Run.State(rawValue: try row.string("state")) else { throw StoreError.corrupt("run state") }
        return Run(id: try row.string("id"), serverID: try row.string("server_id"), accountID: try row.string("account_id"),
                   kind: try row.string("kind"), command: try row.string("command"), state: state,
                   exitCode: try row.optionalInt64("exit_code").map { Int($0) }, stdout: try row.string("stdout"),
                   stderr: try row.string("stderr"), truncated: try row.int64("truncated") != 0,
                   startedAt: try row.date("started_at"), finishedAt: try row.optionalDate("finished_at"),
                   cpuMicros: try row.optionalInt64("cpu_micros"),
                   endedBy: try row.optionalString("ended_by").flatMap(Run.Ending.init(rawValue:)),
                   hint: try row.optionalString("hint"))
    }
}
