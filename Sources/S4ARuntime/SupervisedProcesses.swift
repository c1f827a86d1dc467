import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// A supervisor's processes: each started with `runc exec --detach` (this process is their
/// subreaper, so it learns how they end), its output read from pipes into the server's logs,
/// restarted by its policy. Requests come one at a time from the socket; restarts run beside them.
actor SupervisedProcesses {
    private struct Entry {
        var request: SupervisorSpec.Request
        var record: SupervisorRecord
        let recordFile: String
        let log: ServerLogWriter
        let cgroup: RunCgroup?
        /// The process's host pid while it runs.
        var pid: pid_t?
        /// Ended for good by a request: not restarted.
        var ending = false
        /// Its exit code once it exited, while what it printed last is still being read.
        var exited: Int32?
    }

    /// How a start went: the process runs, or runc could not start it (its exit code).
    private enum Launch {
        case running(pid_t, OutputPipes)
        case failed(Int32, OutputPipes?)
    }

    static let maxBackoff: Duration = .seconds(60)

    private let spec: SupervisorSpec
    private let reaper: ChildReaper
    private var entries: [String: Entry] = [:]
    private var closing = false
    private var idleSince: ContinuousClock.Instant? = .now
    /// One `runc exec` at a time: a crash loop of hundreds of processes costs one runc's memory.
    private var runcBusy = false
    private var runcWaiters: [CheckedContinuation<Void, Never>] = []

    init(spec: SupervisorSpec, reaper: ChildReaper) {
        self.spec = spec
        self.reaper = reaper
    }

    func handle(_ command: SupervisorCommand) async -> SupervisorReply {
        guard !closing else { return SupervisorReply(outcome: .closing) }
        switch command {
        case .start(let request): return await start(request)
        case .end(let name): return await end(name)
        }
    }

    /// Returns once there is nothing left to do: the server stopped, or nothing has run for
    /// `Supervisor.idleExit`. New requests are refused from then on.
    func watch() async {
        while true {
            try? await Task.sleep(for: .milliseconds(200))
            if !containerRunning() || (idleSince.map { ContinuousClock.now - $0 >= Supervisor.idleExit } ?? false) {
                closing = true
                return
            }
        }
    }

    /// Waits (3 s at most: the runtime kills a supervisor that takes 5 s) for the processes
    /// still running to end after the server stopped, so that their records say so, then
    /// records whatever is left as ended; one that already exited is not waited for.
    func drain() async {
        for _ in 0..<30 where entries.values.contains(where: { $0.exited == nil }) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for (name, var entry) in entries {
            // One that exited before the server stopped says so, even while its last lines were being read.
            if let code = entry.exited {
                entry.log.flush()
                entry.record.status.exitCode = code
                entry.log.system("exited with code \(code)")
            } else {
                entry.log.system("the server stopped")
            }
            finish(&entry)
            entries[name] = nil
        }
    }

    // MARK: Requests

    private func start(_ request: SupervisorSpec.Request) async -> SupervisorReply {
        guard RuntimeLayout.isValidProcessName(request.name) else { return SupervisorReply(outcome: .failed, detail: "invalid process name") }
        guard entries[request.name] == nil else { return SupervisorReply(outcome: .exists) }
        guard entries.count < ServerLimits.maxSupervisedProcesses else {
            return SupervisorReply(outcome: .tooMany, limit: ServerLimits.maxSupervisedProcesses)
        }
        guard containerRunning() else { return SupervisorReply(outcome: .failed, detail: "the server is not running") }
        let recordFile = spec.processesDirectory + "/" + request.name + ".json"
        // A name is one process's record; it may start again once that ended. The old one goes
        // first, so that nobody reads its ending as the new one's.
        try? FileManager.default.removeItem(atPath: recordFile)
        let log: ServerLogWriter
        do {
            log = try ServerLogWriter(directory: spec.logsDirectory, process: request.name, masker: SecretMasker(request.masked))
        } catch {
            return SupervisorReply(outcome: .failed, detail: "cannot open the log: \(error)")
        }
        let entry = Entry(request: request, record: SupervisorRecord(pid: getpid(), status: ProcessStatus(state: .starting, startedAt: Date())),
                          recordFile: recordFile, log: log,
                          cgroup: RunCgroup(runcRoot: spec.runcRoot, id: spec.serverID, name: request.name))
        entries[request.name] = entry
        idleSince = nil
        entry.record.write(to: recordFile)
        let launch = await launch(request.name)
        Task { await self.follow(request.name, launch) }
        return SupervisorReply(outcome: .started)
    }

    private func end(_ name: String) async -> SupervisorReply {
        guard var entry = entries[name] else { return SupervisorReply(outcome: .ended) }
        entry.ending = true
        entries[name] = entry
        // Its whole cgroup: what the process started goes with it.
        if let cgroup = entry.cgroup { cgroup.killAll() } else if let pid = entry.pid { kill(pid, SIGKILL) }
        for _ in 0..<100 where entries[name] != nil { try? await Task.sleep(for: .milliseconds(50)) }
        return SupervisorReply(outcome: .ended)
    }

    // MARK: One process's life

    /// Starts the process once and says how that went.
    private func launch(_ name: String) async -> Launch {
        guard var entry = entries[name] else { return .failed(-1, nil) }
        entry.record.status.state = .running
        entry.record.status.startedAt = Date()
        entry.record.write(to: entry.recordFile)
        entry.log.system(entry.record.status.restarts == 0 ? "started" : "restarted (\(entry.record.status.restarts))")
        entries[name] = entry
        let request = entry.request
        let process = ServerBundle.process(args: request.argv, env: request.env, cwd: request.cwd, hostname: spec.serverID)
        guard let processJSON = try? [UInt8](JSONEncoder().encode(process)), let pipes = OutputPipes(log: entry.log) else {
            return .failed(-1, nil)
        }
        let pidFile = spec.processesDirectory + "/" + name + ".pid"
        try? FileManager.default.removeItem(atPath: pidFile)
        let argv = [spec.runc, "--root", spec.runcRoot, "exec", "--detach", "--pid-file", pidFile, "--process", "/proc/self/fd/3"]
            + (entry.cgroup.map { ["--cgroup", $0.argument] } ?? []) + [spec.serverID]
        await acquireRunc()
        let runc = pipes.spawn(argv, fd3: processJSON)
        let code = runc == nil ? 127 : await reaper.exitCode(of: runc!)
        releaseRunc()
        let text = try? String(contentsOfFile: pidFile, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: pidFile)
        guard code == 0, let pid = text.flatMap({ pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }), pid > 1 else {
            // runc said why on the process's stderr: that reaches the log.
            return .failed(code == 0 ? -1 : code, pipes)
        }
        entries[name]?.pid = pid
        return .running(pid, pipes)
    }

    /// Waits for the process to end, records it, and restarts it by its policy until it ends for good.
    private func follow(_ name: String, _ first: Launch) async {
        var launch = first
        var backoff: Duration = .seconds(1)
        while true {
            let started = ContinuousClock.now
            let code: Int32
            switch launch {
            case .running(let pid, let pipes):
                code = await reaper.exitCode(of: pid)
                entries[name]?.exited = code
                // What it printed last, before its ending is logged (a child it left holding the
                // pipes holds this up for at most 3 s; a loaded host needed more than 1 s to read the rest).
                await pipes.drained(within: .seconds(3))
            case .failed(let failed, let pipes):
                code = failed
                await pipes?.drained(within: .seconds(1))
            }
            guard var entry = entries[name] else { return }
            entry.log.flush()
            entry.pid = nil
            entry.record.status.exitCode = code
            entry.record.status.cpuNanoseconds = entry.cgroup?.cpuNanoseconds ?? entry.record.status.cpuNanoseconds
            entry.log.system("exited with code \(code)")
            entry.exited = nil
            let again = switch entry.request.restart {
            case .never: false
            case .onFailure: code != 0
            case .always: true
            }
            guard again, !entry.ending, containerRunning() else {
                entries[name] = entry
                return retire(name)
            }
            // A process that ran a while earns a fresh backoff; a crash loop waits longer each time.
            if ContinuousClock.now - started > Self.maxBackoff { backoff = .seconds(1) }
            entry.record.status.state = .backoff
            entry.record.write(to: entry.recordFile)
            entry.log.system("restarting in \(backoff.components.seconds) s")
            entries[name] = entry
            for _ in 0..<Int(backoff.components.seconds * 10) where entries[name]?.ending == false {
                try? await Task.sleep(for: .milliseconds(100))
            }
            backoff = min(backoff * 2, Self.maxBackoff)
            guard entries[name]?.ending == false, containerRunning() else { return retire(name) }
            entries[name]?.record.status.restarts += 1
            launch = await self.launch(name)
        }
    }

    /// The process has ended for good: its record says so and its slot is free.
    private func retire(_ name: String) {
        guard var entry = entries.removeValue(forKey: name) else { return }
        if entry.ending { entry.log.system("ended") }
        finish(&entry)
        if entries.isEmpty { idleSince = .now }
    }

    private func finish(_ entry: inout Entry) {
        entry.record.status.state = .exited
        entry.record.status.finishedAt = Date()
        entry.record.write(to: entry.recordFile)
    }

    private func acquireRunc() async {
        guard runcBusy else {
            runcBusy = true
            return
        }
        await withCheckedContinuation { runcWaiters.append($0) }
    }

    private func releaseRunc() {
        if runcWaiters.isEmpty { runcBusy = false } else { runcWaiters.removeFirst().resume() }
    }

    private func containerRunning() -> Bool {
        // As the watchdog reads it, without a process (this one reaps every child it has).
        switch ContainerState.read(runcRoot: spec.runcRoot, id: spec.serverID) {
        case .status(let status): status == .running || status == .paused
        case .unknown: true
        }
    }
}
