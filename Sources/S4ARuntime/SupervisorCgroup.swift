import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The host cgroup a server's supervisor (and the `runc exec` it runs) lives in, apart from
/// the control plane's: `<hierarchy>/s4a-supervise/<id>`, beside the server's own `s4a/<id>`,
/// with limits, so what a server makes its supervisor do (a log flood, hundreds of
/// processes, a crash loop) costs a bounded share of the host. Cgroup v1 and v2.
struct SupervisorCgroup {
    static let memoryBytes: Int64 = 256 << 20
    static let maxTasks = 256
    /// Half a core (of a 100 ms period): a server that floods its logs is slowed down by its
    /// own pipe filling, not the host.
    static let cpuQuotaMicros = 50_000

    /// The directories made (one per v1 controller, or the single v2 one).
    let directories: [String]

    /// Made from where runc put the server's cgroups; nil when they cannot be found.
    init?(runcRoot: String, id: String) {
        guard let state = RuncStateFile(runcRoot: runcRoot, id: id) else { return nil }
        let suffix = "/s4a/" + id
        var directories: [String] = []
        // A hybrid host lists an empty v2 hierarchy beside the v1 controllers: v1 then.
        if state.cgroup("memory") == nil, let unified = state.cgroup(""), unified.hasSuffix(suffix) {
            let hierarchy = String(unified.dropLast(suffix.count))
            // v2: controllers reach a child only when its parent delegates them.
            Self.makeDirectory(hierarchy + "/s4a-supervise")
            Self.write("+memory +pids +cpu", to: hierarchy + "/s4a-supervise/cgroup.subtree_control")
            let directory = hierarchy + "/s4a-supervise/" + id
            Self.makeDirectory(directory)
            Self.write("\(Self.memoryBytes)", to: directory + "/memory.max")
            Self.write("\(Self.maxTasks)", to: directory + "/pids.max")
            Self.write("\(Self.cpuQuotaMicros) 100000", to: directory + "/cpu.max")
            directories.append(directory)
        } else {
            let limits: [(String, String, String)] = [
                ("memory", "memory.limit_in_bytes", "\(Self.memoryBytes)"),
                ("pids", "pids.max", "\(Self.maxTasks)"),
                ("cpu", "cpu.cfs_quota_us", "\(Self.cpuQuotaMicros)"),
            ]
            for (controller, file, value) in limits {
                guard let path = state.cgroup(controller), path.hasSuffix(suffix) else { continue }
                let parent = String(path.dropLast(suffix.count)) + "/s4a-supervise"
                Self.makeDirectory(parent)
                let directory = parent + "/" + id
                Self.makeDirectory(directory)
                Self.write(value, to: directory + "/" + file)
                directories.append(directory)
            }
        }
        guard !directories.isEmpty else { return nil }
        self.directories = directories
    }

    init(directories: [String]) { self.directories = directories }

    /// Moves the calling process (and so whatever it starts afterwards) in.
    /// Returns the directories it could not join.
    func join() -> [String] {
        directories.filter { !Self.write("\(getpid())", to: $0 + "/cgroup.procs") }
    }

    /// Whether a limit is set where this cgroup says it is (for the operator and the tests).
    var memoryLimit: Int64? {
        for directory in directories {
            for file in ["memory.max", "memory.limit_in_bytes"] {
                if let text = try? String(contentsOfFile: directory + "/" + file, encoding: .utf8),
                   let value = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return value }
            }
        }
        return nil
    }

    /// Removes the directories (each only once no process is left in it).
    func remove() {
        for directory in directories where directory.contains("/s4a-supervise/") { rmdir(directory) }
    }

    /// What a supervisor writes beside its records so that the runtime can remove its cgroup
    /// after the server is gone (runc's state, which locates it, is deleted by then).
    static func recordFile(processes: String) -> String { processes + "/supervisor.cgroups" }

    func record(in processes: String) {
        _ = AtomicFile.write(Data(directories.joined(separator: "\n").utf8), to: Self.recordFile(processes: processes))
    }

    /// The cgroup a supervisor recorded for server `id` (only paths of that shape are taken).
    static func recorded(in processes: String, id: String) -> SupervisorCgroup? {
        guard let text = try? String(contentsOfFile: recordFile(processes: processes), encoding: .utf8) else { return nil }
        let directories = text.split(separator: "\n").map(String.init)
            .filter { $0.hasPrefix("/sys/fs/cgroup/") && $0.hasSuffix("/s4a-supervise/" + id) && !$0.contains("/../") }
        return directories.isEmpty ? nil : SupervisorCgroup(directories: directories)
    }

    private static func makeDirectory(_ path: String) {
        _ = mkdir(path, 0o755)
    }

    @discardableResult
    private static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return ChildProcess.writeAll(Array(text.utf8), to: fd)
    }
}
