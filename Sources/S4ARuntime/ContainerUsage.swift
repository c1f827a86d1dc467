import Foundation
import S4ADomain

/// A server's usage read from files only (no `runc events`, which costs a process per read):
/// its cgroups as runc's state file names them, its disk's filesystem, and its network
/// namespace's interface counters through the init process.
enum ContainerUsage {
    static func read(_ state: RuncStateFile, diskMount: String) -> ContainerStats {
        let cpu = state.cgroup("cpuacct").flatMap { Self.number($0 + "/cpuacct.usage") }
            ?? state.cgroup("").flatMap { Self.cpuStatMicros($0).map { $0 * 1000 } } ?? 0
        let memory = state.cgroup("memory").flatMap { Self.number($0 + "/memory.usage_in_bytes") }
            ?? state.cgroup("").flatMap { Self.number($0 + "/memory.current") } ?? 0
        let pids = state.cgroup("pids").flatMap { Self.number($0 + "/pids.current") }
            ?? state.cgroup("").flatMap { Self.number($0 + "/pids.current") } ?? 0
        var disk = statvfs()
        let diskBytes = statvfs(diskMount, &disk) == 0 ? UInt64(disk.f_blocks - disk.f_bfree) * UInt64(disk.f_frsize) : 0
        let (received, sent) = Self.network(pid: state.initPID)
        return ContainerStats(cpuNanoseconds: cpu, memoryBytes: memory, pids: pids, diskBytes: diskBytes,
                              networkReceivedBytes: received, networkSentBytes: sent)
    }

    static func number(_ path: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// `usage_usec` of a cgroup v2 `cpu.stat` (present in every v2 cgroup, controller or not).
    static func cpuStatMicros(_ directory: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: directory + "/cpu.stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("usage_usec ") {
            return UInt64(line.dropFirst("usage_usec ".count))
        }
        return nil
    }

    /// Bytes received and sent on every interface but loopback, as the namespace counts them.
    static func network(pid: Int32) -> (UInt64, UInt64) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/dev", encoding: .utf8) else { return (0, 0) }
        var received: UInt64 = 0, sent: UInt64 = 0
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let fields = line[line.index(after: colon)...].split(separator: " ")
            guard name != "lo", fields.count >= 9 else { continue }
            received += UInt64(fields[0]) ?? 0
            sent += UInt64(fields[8]) ?? 0
        }
        return (received, sent)
    }
}

/// The parts of runc's `state.json` the runtime reads without running runc (one parse serves
/// the status check and the usage reading).
struct RuncStateFile {
    let initPID: Int32
    /// The init process's start time in clock ticks, to tell it from a reused pid.
    let initStart: UInt64?
    let cgroupPaths: [String: String]

    init?(runcRoot: String, id: String) {
        guard let data = FileManager.default.contents(atPath: runcRoot + "/" + id + "/state.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let pid = (object["init_process_pid"] as? NSNumber)?.int32Value else { return nil }
        initPID = pid
        initStart = (object["init_process_start"] as? NSNumber)?.uint64Value
        cgroupPaths = (object["cgroup_paths"] as? [String: String]) ?? [:]
    }

    /// The cgroup directory of a v1 controller, or "" for the v2 (unified) one.
    func cgroup(_ controller: String) -> String? {
        guard let path = cgroupPaths[controller], FileManager.default.fileExists(atPath: path) else { return nil }
        return path
    }
}

/// A cgroup of its own for one command inside a server (under the server's CPU accounting
/// cgroup), so that the command's CPU time, children included, can be read when it ends.
struct RunCgroup {
    /// What `runc exec --cgroup` takes.
    let argument: String
    private let directory: String
    private let unified: Bool

    /// nil where the server's cgroups cannot be found (the command then runs unmeasured).
    /// `name`: a supervised process's, so that it can be found again to end it.
    init?(runcRoot: String, id: String, name: String? = nil) {
        guard let state = RuncStateFile(runcRoot: runcRoot, id: id) else { return nil }
        let name = name.map { "proc-" + $0 } ?? "run-" + UUID().uuidString.lowercased()
        if let cpuacct = state.cgroup("cpuacct") {
            directory = cpuacct + "/" + name
            argument = "cpuacct:" + name
            unified = false
        } else if let root = state.cgroup("") {
            directory = root + "/" + name
            argument = name
            unified = true
        } else {
            return nil
        }
        guard mkdir(directory, 0o755) == 0 || errno == EEXIST else { return nil }
    }

    /// The processes in the cgroup now.
    var processIDs: [pid_t] {
        ((try? String(contentsOfFile: directory + "/cgroup.procs", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { pid_t($0) }
    }

    /// Kills every process in the cgroup, again until none is left (a dying process's children
    /// may still be forking).
    func killAll() {
        for _ in 0..<100 {
            let pids = processIDs
            if pids.isEmpty { return }
            for pid in pids { kill(pid, SIGKILL) }
            usleep(10_000)
        }
    }

    var cpuNanoseconds: UInt64? {
        unified ? ContainerUsage.cpuStatMicros(directory).map { $0 * 1000 } : ContainerUsage.number(directory + "/cpuacct.usage")
    }

    /// Fails quietly while something the command left behind still runs there; deleting the
    /// container removes it then.
    func remove() { rmdir(directory) }
}
