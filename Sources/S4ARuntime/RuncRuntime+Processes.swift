import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// Long-running processes: each under its own supervisor (`s4a supervise`), detached from the
/// control plane so it keeps running, logging and restarting when the control plane does not.
extension RuncRuntime {
    public func spawn(_ id: String, _ request: ProcessRequest) async throws {
        try Self.checkID(id)
        guard RuntimeLayout.isValidProcessName(request.name) else { throw RuntimeError.failed("invalid process name") }
        guard let supervisor else {
            throw RuntimeError.missing("the s4a binary (its supervisor) was not found; set S4A_BIN to its path")
        }
        guard try await status(id) == .running else { throw RuntimeError.notRunning }
        // Counted with the spawns in flight, under one lock: concurrent requests cannot all
        // squeeze under the limit.
        guard spawning.reserve(id, live: liveSupervisors(id), limit: ServerLimits.maxSupervisedProcesses) else {
            throw TooManyProcesses(limit: ServerLimits.maxSupervisedProcesses)
        }
        defer { spawning.release(id) }
        let processes = layout.processesDirectory(id)
        try FileManager.default.createDirectory(atPath: processes, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let recordFile = processes + "/" + request.name + ".json"
        // A name is one process's record; it may start again once that ended (a deployment
        // after its server restarted).
        if let record = SupervisorRecord.read(recordFile) {
            guard record.status.state == .exited, !Self.isSupervisor(record.pid, of: id) else {
                throw RuntimeError.failed("process \(request.name) exists")
            }
            // Gone before the new supervisor starts, so that nobody reads the old ending as the new one's.
            try FileManager.default.removeItem(atPath: recordFile)
        }
        let spec = SupervisorSpec(
            serverID: id,
            request: .init(name: request.name, argv: request.argv, cwd: request.cwd, env: request.env, restart: request.restart,
                           masked: request.masked),
            runc: runc, runcRoot: layout.runcRoot, logsDirectory: layout.logsDirectory(id), recordFile: recordFile)
        // setsid --fork: the supervisor leads its own session and is nobody's child here, so
        // neither a signal to the control plane's group nor its exit reaches it.
        let output = try await ChildProcess.run(["setsid", "--fork", supervisor, "supervise", id, request.name],
                                                stdin: try [UInt8](JSONEncoder().encode(spec)),
                                                logFile: processes + "/" + request.name + ".log")
        guard output.exitCode == 0 else { throw RuntimeError.failed("the supervisor did not start") }
        // Return once it runs (or has already ended), so a caller can rely on its record.
        for _ in 0..<250 {
            if let record = SupervisorRecord.read(recordFile), record.status.state != .starting { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw RuntimeError.failed("the supervisor did not report: \(supervisorErrors(id, request.name))")
    }

    public func processStatus(_ id: String, name: String) async throws -> ProcessStatus? {
        try Self.checkID(id)
        guard RuntimeLayout.isValidProcessName(name),
              let record = SupervisorRecord.read(layout.processesDirectory(id) + "/" + name + ".json") else { return nil }
        var status = record.status
        // A supervisor killed before it could say how its process ended: the outcome is unknown.
        if status.state != .exited, !Self.isSupervisor(record.pid, of: id) {
            status.state = .exited
            status.exitCode = nil
        }
        return status
    }

    public func readLogs(_ id: String, after cursor: LogCursor?) async throws -> (lines: [LogLine], cursor: LogCursor) {
        try Self.checkID(id)
        return ServerLogFiles.read(directory: layout.logsDirectory(id), after: cursor)
    }

    public func logAccess(_ id: String, _ line: String) {
        guard RuntimeLayout.isValidID(id) else { return }
        accessLogs.writer(for: id, directory: layout.logsDirectory(id))?.system(line)
    }

    public func pruneLogs(before: Date) async throws -> [String: Int64] {
        var removed: [String: Int64] = [:]
        let servers = (try? FileManager.default.contentsOfDirectory(atPath: layout.serversDirectory.path)) ?? []
        for id in servers where RuntimeLayout.isValidID(id) {
            removed.merge(ServerLogFiles.prune(directory: layout.logsDirectory(id), before: before), uniquingKeysWith: +)
        }
        return removed
    }

    public func endProcess(_ id: String, name: String) async throws {
        try Self.checkID(id)
        guard RuntimeLayout.isValidProcessName(name) else { throw RuntimeError.failed("invalid process name") }
        let recordFile = layout.processesDirectory(id) + "/" + name + ".json"
        guard let record = SupervisorRecord.read(recordFile) else { return }
        if Self.isSupervisor(record.pid, of: id) {
            Glibc.kill(record.pid, SIGTERM)
            for _ in 0..<250 {
                if !Self.isSupervisor(record.pid, of: id) { return }
                try await Task.sleep(for: .milliseconds(20))
            }
            Glibc.kill(record.pid, SIGKILL)
        }
        // No supervisor (or one that would not end): its processes go all the same.
        RunCgroup(runcRoot: layout.runcRoot, id: id, name: name)?.killAll()
    }

    /// How many of the server's supervisors are alive (their records say so and the pid is one).
    func liveSupervisors(_ id: String) -> Int {
        let directory = layout.processesDirectory(id)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }
        return names.compactMap { SupervisorRecord.read(directory + "/" + $0) }
            .filter { $0.status.state != .exited && Self.isSupervisor($0.pid, of: id) }.count
    }

    /// After the container is gone its supervisors end by themselves (their `runc exec`
    /// returns and the server no longer runs); this waits for that and kills any that hang.
    func endSupervisors(_ id: String) async {
        let directory = layout.processesDirectory(id)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }
        let pids = names.compactMap { SupervisorRecord.read(directory + "/" + $0) }
            .filter { $0.status.state != .exited }.map(\.pid)
        for _ in 0..<100 {
            guard pids.contains(where: { Self.isSupervisor($0, of: id) }) else { return }
            try? await Task.sleep(for: .milliseconds(30))
        }
        for pid in pids where Self.isSupervisor(pid, of: id) { Glibc.kill(pid, SIGKILL) }
    }

    /// Whether `pid` is still a supervisor of server `id` (and not a reused pid).
    static func isSupervisor(_ pid: Int32, of id: String) -> Bool {
        ProcessTable.supervisorRole(of: pid, server: id).map { $0 != "--lease" } ?? false
    }

    private func supervisorErrors(_ id: String, _ name: String) -> String {
        let text = (try? String(contentsOfFile: layout.processesDirectory(id) + "/" + name + ".log", encoding: .utf8)) ?? ""
        return String(text.suffix(300)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The binary whose `supervise` command supervises: this one when it is `s4a`, else an
    /// `s4a` beside it (the test runner's case), else `S4A_BIN`.
    static func findSupervisor() -> String? {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        if URL(fileURLWithPath: me).lastPathComponent == "s4a" { return me }
        let sibling = URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("s4a").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        if let path = ProcessInfo.processInfo.environment["S4A_BIN"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return nil
    }
}

/// Spawns in flight per server, so that the supervisor limit counts them before their records exist.
final class SpawnCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var inFlight: [String: Int] = [:]

    /// Takes a slot unless `live` plus those in flight already reach `limit`.
    func reserve(_ id: String, live: Int, limit: Int) -> Bool {
        lock.withLock {
            let current = inFlight[id, default: 0]
            guard live + current < limit else { return false }
            inFlight[id] = current + 1
            return true
        }
    }

    func release(_ id: String) {
        lock.withLock {
            let left = inFlight[id, default: 1] - 1
            inFlight[id] = left > 0 ? left : nil
        }
    }
}
