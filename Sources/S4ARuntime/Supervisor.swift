import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// What a supervisor is told on its stdin when it starts (nothing secret: processes, with
/// their environments, come over its socket).
struct SupervisorSpec: Codable {
    var serverID: String
    var runc: String
    var runcRoot: String
    var logsDirectory: String
    /// Where the records (`<name>.json`) and the supervisor's own files go.
    var processesDirectory: String

    struct Request: Codable {
        var name: String
        var argv: [String]
        var cwd: String
        var env: [String: String]
        var restart: RestartPolicy
        /// Secret values to mask in the logs.
        var masked: [String]
    }
}

/// What a supervisor keeps saying of a process, in `processes/<name>.json`.
struct SupervisorRecord: Codable {
    /// The supervisor's pid: while it lives, the record is kept up to date.
    var pid: Int32
    var status: ProcessStatus

    static func read(_ path: String) -> SupervisorRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? ServerLogFiles.decoder().decode(SupervisorRecord.self, from: data)
    }

    /// Written whole and renamed into place: a reader never sees half a record.
    func write(to path: String) {
        guard let data = try? ServerLogFiles.encoder().encode(self) else { return }
        _ = AtomicFile.write(data, to: path)
    }
}

/// The per-server process supervisor (as conmon is for CRI-O, but one per server): a small
/// host process, apart from the control plane, that runs a server's long-running processes
/// with `runc exec --detach`, holds their stdio, writes their output to the server's logs,
/// records how each ended and restarts it by its policy with exponential backoff. It lives in
/// a host cgroup of its own with limits (`SupervisorCgroup`), refuses more than
/// `ServerLimits.maxSupervisedProcesses` at once, and ends once it has nothing left to
/// supervise or the server stops. `s4a supervise SERVER --processes` runs it; the runtime
/// starts it (detached) when it first needs it and talks to it over `SupervisorChannel`.
public enum Supervisor {
    /// The role argument that tells a supervisor from a lease watchdog in the process table.
    public static let role = "--processes"
    /// How long it waits with nothing to supervise before it ends.
    static let idleExit: Duration = .seconds(1)

    public static func main() async -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let input = FileHandle.standardInput.readDataToEndOfFile()
        guard let spec = try? JSONDecoder().decode(SupervisorSpec.self, from: input) else {
            FileHandle.standardError.write(Data("s4a supervise: expected the spec on stdin\n".utf8))
            return 2
        }
        // The name is the lock: another supervisor of the server holds it, and it serves.
        guard let listener = SupervisorChannel.listen(SupervisorChannel.name(runcRoot: spec.runcRoot, id: spec.serverID)) else {
            return 0
        }
        let cgroup = SupervisorCgroup(runcRoot: spec.runcRoot, id: spec.serverID)
        if let cgroup {
            cgroup.record(in: spec.processesDirectory)
            let missed = cgroup.join()
            if !missed.isEmpty { FileHandle.standardError.write(Data("s4a supervise: not limited by \(missed)\n".utf8)) }
        }
        raiseOpenFileLimit()
        _ = AtomicFile.write(Data("\(getpid())\n".utf8), to: spec.processesDirectory + "/supervisor.pid")
        let processes = SupervisedProcesses(spec: spec, reaper: ChildReaper())
        let server = Thread {
            SupervisorChannel.serve(listener) { command in
                let reply = Locked<SupervisorReply?>(nil)
                let done = DispatchSemaphore(value: 0)
                Task {
                    reply.set(await processes.handle(command))
                    done.signal()
                }
                done.wait()
                return reply.value ?? SupervisorReply(outcome: .failed)
            }
        }
        server.start()
        await processes.watch()
        // Stop taking requests: the runtime then starts a new supervisor when it needs one.
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        await processes.drain()
        return 0
    }

    /// Each process holds a log file and two pipes: the usual 1024 descriptors are too few
    /// for the most processes a server may have.
    private static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        limit.rlim_cur = min(limit.rlim_max, 8192)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
}
