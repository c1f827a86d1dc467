import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// Enforces a server's lease next to the server, not in the control plane: a small host
/// process (`s4a supervise --lease`, in its own session) that reads the lease's deadline from
/// `servers/<id>/lease` and kills every process of the server when it passes. If the control
/// plane is killed, hung or cut off and nobody renews the lease, the server stops at its
/// deadline anyway, so no server can run (and spend) past what was paid for.
public enum LeaseWatchdog {
    struct Spec: Codable {
        var serverID: String
        var runc: String
        var runcRoot: String
        var leaseFile: String
        var expiredFile: String
        /// Where it says its pid, so that finding it costs one read, not a scan of /proc.
        var pidFile: String
    }

    /// How often the deadline is checked: the most a server can overrun its lease.
    static let tick: Duration = .milliseconds(100)

    public static func main() async -> Int32 {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        guard let spec = try? JSONDecoder().decode(Spec.self, from: input) else {
            FileHandle.standardError.write(Data("s4a supervise --lease: expected the spec on stdin\n".utf8))
            return 2
        }
        _ = AtomicFile.write(Data("\(getpid())\n".utf8), to: spec.pidFile)
        var ticks = 0
        while true {
            // Whether the server still runs costs a JSON parse: asked once a second, while the
            // deadline (one small file) is read every tick. Hundreds of watchdogs share two cores.
            if ticks % 10 == 0 {
                switch ContainerState.read(runcRoot: spec.runcRoot, id: spec.serverID) {
                case .status(.running?), .status(.paused?), .unknown: break
                default: return 0  // the server stopped or is gone: nothing left to enforce
                }
            }
            ticks += 1
            if let deadline = readDeadline(spec.leaseFile), Date() >= deadline {
                // The note first: whoever finds the server stopped must know why (its lease ran
                // out), not take it for a container that died on its own.
                let note = Data("\(Int64(Date().timeIntervalSince1970 * 1000))\n".utf8)
                FileManager.default.createFile(atPath: spec.expiredFile, contents: note, attributes: [.posixPermissions: 0o600])
                _ = try? await ChildProcess.run([spec.runc, "--root", spec.runcRoot, "kill", "--all", spec.serverID, "KILL"])
                return 0
            }
            try? await Task.sleep(for: tick)
        }
    }

    /// The deadline in the lease file (milliseconds since the epoch); nil when there is none.
    static func readDeadline(_ path: String) -> Date? {
        // A plain read(2) into a small buffer: this runs ten times a second per server.
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = read(fd, &buffer, buffer.count)
        guard count > 0 else { return nil }
        var millis: Int64 = 0
        for byte in buffer[..<count] {
            if byte == UInt8(ascii: "\n") { break }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), millis <= (Int64.max - 9) / 10 else { return nil }
            millis = millis * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }
}

extension RuncRuntime {
    public func setLease(_ id: String, deadline: Date) async throws {
        try Self.checkID(id)
        let path = layout.leaseFile(id)
        let data = Data("\(Int64((deadline.timeIntervalSince1970 * 1000).rounded(.down)))\n".utf8)
        guard AtomicFile.write(data, to: path) else { throw RuntimeError.failed("cannot write the lease") }
        // Renewals also heal: a running server whose watchdog is gone gets one again.
        if watchdogPID(id) == nil, try await status(id) == .running { try await startWatchdog(id) }
    }

    public func leaseExpired(_ id: String) async throws -> Date? {
        try Self.checkID(id)
        guard let data = FileManager.default.contents(atPath: layout.leaseExpiredFile(id)),
              let millis = Int64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else { return nil }
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    /// Starts the server's watchdog (after its container runs) unless one runs.
    func startWatchdog(_ id: String) async throws {
        guard let supervisor else { throw RuntimeError.missing("the s4a binary (its supervisor) was not found; set S4A_BIN") }
        guard watchdogPID(id) == nil else { return }
        try? FileManager.default.removeItem(atPath: layout.watchdogPIDFile(id))
        let spec = LeaseWatchdog.Spec(serverID: id, runc: runc, runcRoot: layout.runcRoot, leaseFile: layout.leaseFile(id),
                                      expiredFile: layout.leaseExpiredFile(id), pidFile: layout.watchdogPIDFile(id))
        let output = try await ChildProcess.run(["setsid", "--fork", supervisor, "supervise", id, "--lease"],
                                                stdin: try [UInt8](JSONEncoder().encode(spec)),
                                                logFile: layout.serverDirectory(id).appendingPathComponent("watchdog.log").path)
        guard output.exitCode == 0 else { throw RuntimeError.failed("the lease watchdog did not start") }
        // Return once it runs (setsid --fork returns before its child has become the watchdog),
        // so that no second one is started beside it and a caller can count on it.
        for _ in 0..<250 {
            if watchdogPID(id) != nil { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw RuntimeError.failed("the lease watchdog did not start")
    }

    /// Ends the server's watchdog (it is stopping anyway; this does not wait for it to notice).
    func stopWatchdog(_ id: String) {
        for pid in Self.watchdogs(of: id) { Glibc.kill(pid, SIGKILL) }
    }

    /// The server's live watchdog, from the pid it wrote (checked: pids are reused).
    func watchdogPID(_ id: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: layout.watchdogPIDFile(id), encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), Self.isWatchdog(pid, of: id) else { return nil }
        return pid
    }

    static func isWatchdog(_ pid: pid_t, of id: String) -> Bool {
        ProcessTable.supervisorRole(of: pid, server: id) == "--lease"
    }

    /// Every live watchdog process of server `id`, found by scanning /proc (for stopping and
    /// for tests; the hot paths read the pid file).
    static func watchdogs(of id: String) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(pid_t.init).filter { isWatchdog($0, of: id) }
    }
}
