import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// Long-running processes, under the server's one supervisor (`s4a supervise ID --processes`),
/// detached from the control plane so they keep running, logging and restarting when the
/// control plane does not. It is started when first needed and ends when idle.
extension RuncRuntime {
    public func spawn(_ id: String, _ request: ProcessRequest) async throws {
        try Self.checkID(id)
        guard RuntimeLayout.isValidProcessName(request.name) else { throw RuntimeError.failed("invalid process name") }
        guard try await status(id) == .running else { throw RuntimeError.notRunning }
        let command = SupervisorCommand.start(.init(name: request.name, argv: request.argv, cwd: request.cwd, env: request.env,
                                                    restart: request.restart, masked: request.masked))
        guard let reply = try await askSupervisor(id, command, starting: true) else {
            throw RuntimeError.failed("the supervisor did not answer: \(supervisorErrors(id))")
        }
        switch reply.outcome {
        case .started: return
        case .tooMany: throw TooManyProcesses(limit: reply.limit ?? ServerLimits.maxSupervisedProcesses)
        case .exists: throw RuntimeError.failed("process \(request.name) exists")
        case .failed where reply.detail == "the server is not running": throw RuntimeError.notRunning
        case .failed, .ended, .closing: throw RuntimeError.failed("the supervisor: \(reply.detail ?? reply.outcome.rawValue)")
        }
    }

    /// Sends `command` to the server's supervisor, starting one first if `starting` and none
    /// answers. nil: none answers (and none was to be started).
    func askSupervisor(_ id: String, _ command: SupervisorCommand, starting: Bool) async throws -> SupervisorReply? {
        let name = SupervisorChannel.name(runcRoot: layout.runcRoot, id: id)
        for attempt in 0..<200 {
            if let reply = try await SupervisorChannel.send(command, to: name) {
                if reply.outcome != .closing { return reply }
            } else if !starting {
                return nil
            } else if attempt % 40 == 0 {
                // Another spawn may start one at the same moment: the second finds the name taken and leaves.
                try await launchSupervisor(id)
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    private func launchSupervisor(_ id: String) async throws {
        guard let supervisor else {
            throw RuntimeError.missing("the s4a binary (its supervisor) was not found; set S4A_BIN to its path")
        }
        let processes = layout.processesDirectory(id)
        try FileManager.default.createDirectory(atPath: processes, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let spec = SupervisorSpec(serverID: id, runc: runc, runcRoot: layout.runcRoot, logsDirectory: layout.logsDirectory(id),
                                  processesDirectory: processes)
        // setsid --fork: the supervisor leads its own session and is nobody's child here, so
        // neither a signal to the control plane's group nor its exit reaches it.
        let output = try await ChildProcess.run(["setsid", "--fork", supervisor, "supervise", id, Supervisor.role],
                                                stdin: try [UInt8](JSONEncoder().encode(spec)),
                                                logFile: processes + "/supervisor.log")
        guard output.exitCode == 0 else { throw RuntimeError.failed("the supervisor did not start") }
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
        if try await askSupervisor(id, .end(name: name), starting: false) == nil {
            // No supervisor: its processes go all the same.
            RunCgroup(runcRoot: layout.runcRoot, id: id, name: name)?.killAll()
        }
    }

    /// After the container is gone its supervisor ends by itself (it sees the server stopped
    /// and its processes end); this waits for that, kills it if it hangs, and removes its cgroup.
    func endSupervisors(_ id: String) async {
        let processes = layout.processesDirectory(id)
        let pid = (try? String(contentsOfFile: processes + "/supervisor.pid", encoding: .utf8))
            .flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        if let pid {
            for _ in 0..<100 where Self.isSupervisor(pid, of: id) { try? await Task.sleep(for: .milliseconds(50)) }
            if Self.isSupervisor(pid, of: id) { Glibc.kill(pid, SIGKILL) }
            for _ in 0..<20 where Self.isSupervisor(pid, of: id) { try? await Task.sleep(for: .milliseconds(50)) }
        }
        SupervisorCgroup.recorded(in: processes, id: id)?.remove()
    }

    /// Whether `pid` is still a supervisor of server `id` (and not a reused pid).
    static func isSupervisor(_ pid: Int32, of id: String) -> Bool {
        ProcessTable.supervisorRole(of: pid, server: id) == Supervisor.role
    }

    private func supervisorErrors(_ id: String) -> String {
        let text = (try? String(contentsOfFile: layout.processesDirectory(id) + "/supervisor.log", encoding: .utf8)) ?? ""
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
