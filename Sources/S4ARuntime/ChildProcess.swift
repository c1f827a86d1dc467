import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// Runs a host program with pipes for stdin, stdout, stderr and optionally fd 3, without a
/// shell and without temporary files (fd 3 carries specs that must not touch the disk).
enum ChildProcess {
    struct Output: Sendable {
        var exitCode: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
        var truncated: Bool
        var timedOut: Bool

        var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        var stderrText: String { String(decoding: stderr, as: UTF8.self) }
    }

    struct Failure: Error, CustomStringConvertible {
        var command: String
        var output: Output?
        var reason: String
        var description: String {
            "\(command): \(reason)" + (output.map { " (exit \($0.exitCode)): \($0.stderrText.trimmingCharacters(in: .whitespacesAndNewlines))" } ?? "")
        }
    }

    /// Runs `argv` and throws unless it exits 0.
    @discardableResult
    static func check(_ argv: [String], stdin: [UInt8] = [], fd3: [UInt8]? = nil) async throws -> Output {
        let output = try await run(argv, stdin: stdin, fd3: fd3)
        guard output.exitCode == 0 else {
            throw Failure(command: argv.prefix(3).joined(separator: " "), output: output, reason: "failed")
        }
        return output
    }

    /// Runs `argv` to its end. Output past `outputLimit` per stream is read and dropped.
    /// At `timeout`, `onTimeout` gets the child's pid (to kill what it started), then the
    /// child's process group is killed.
    /// With `logFile`, stdout and stderr go to that file (appended) and stdin is /dev/null
    /// unless given: for programs that leave long-lived children holding their stdio
    /// (`runc run --detach`, `setsid --fork`).
    /// With `collect` false nothing is kept: every piece of output goes to `onOutput`.
    static func run(_ argv: [String], stdin: [UInt8] = [], fd3: [UInt8]? = nil, outputLimit: Int = 1 << 20,
                    collect: Bool = true, timeout: Duration? = nil, logFile: String? = nil,
                    onOutput: (@Sendable (OutputStreamKind, [UInt8]) -> Void)? = nil,
                    onTimeout: (@Sendable (pid_t) -> Void)? = nil) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    continuation.resume(returning: try runBlocking(argv, stdin: stdin, fd3: fd3,
                                                                   outputLimit: collect ? outputLimit : 0, collect: collect,
                                                                   timeout: timeout, logFile: logFile, onOutput: onOutput,
                                                                   onTimeout: onTimeout))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private static func runBlocking(_ argv: [String], stdin: [UInt8], fd3: [UInt8]?, outputLimit: Int, collect: Bool,
                                    timeout: Duration?, logFile: String?,
                                    onOutput: (@Sendable (OutputStreamKind, [UInt8]) -> Void)?,
                                    onTimeout: (@Sendable (pid_t) -> Void)?) throws -> Output {
        func makePipe() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            guard systemPipe2(&fds, O_CLOEXEC) == 0 else { throw Failure(command: argv[0], reason: "pipe: \(errno)") }
            return (fds[0], fds[1])
        }
        let input = try makePipe(), out = try makePipe(), err = try makePipe()
        let extra = try fd3.map { _ in try makePipe() }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let logFile {
            if stdin.isEmpty {
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            } else {
                posix_spawn_file_actions_adddup2(&actions, input.read, 0)
            }
            posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_adddup2(&actions, input.read, 0)
            posix_spawn_file_actions_adddup2(&actions, out.write, 1)
            posix_spawn_file_actions_adddup2(&actions, err.write, 2)
        }
        if let extra { posix_spawn_file_actions_adddup2(&actions, extra.read, 3) }

        let (pid, spawned) = spawn(argv, actions: &actions, session: .ownGroup, lastInherited: extra == nil ? 2 : 3)
        for fd in [input.read, out.write, err.write] + (extra.map { [$0.read] } ?? []) { close(fd) }
        guard spawned == 0 else {
            for fd in [input.write, out.read, err.read] + (extra.map { [$0.write] } ?? []) { close(fd) }
            throw Failure(command: argv[0], reason: "cannot start: \(String(cString: strerror(spawned)))")
        }

        let group = DispatchGroup()
        let state = Collected()
        func write(_ bytes: [UInt8], to fd: Int32) {
            group.enter()
            DispatchQueue.global().async {
                writeAll(bytes, to: fd)
                close(fd)
                group.leave()
            }
        }
        func read(_ fd: Int32, as kind: OutputStreamKind) {
            group.enter()
            DispatchQueue.global().async {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    if count < 0 { if errno == EINTR { continue } else { break } }
                    if count == 0 { break }
                    guard collect else {
                        onOutput?(kind, Array(buffer[0..<count]))
                        continue
                    }
                    let kept: [UInt8] = state.lock.withLock {
                        let room = outputLimit - (kind == .stdout ? state.stdout : state.stderr).count
                        let piece = room > 0 ? Array(buffer[0..<min(room, count)]) : []
                        if kind == .stdout { state.stdout += piece } else { state.stderr += piece }
                        if count > room { state.truncated = true }
                        return piece
                    }
                    if !kept.isEmpty { onOutput?(kind, kept) }
                }
                close(fd)
                group.leave()
            }
        }
        // SIGPIPE is ignored in this process, so a child that stops reading only fails the write.
        write(stdin, to: input.write)
        if let extra, let fd3 { write(fd3, to: extra.write) }
        read(out.read, as: .stdout)
        read(err.read, as: .stderr)

        var timer: DispatchWorkItem?
        if let timeout {
            let item = DispatchWorkItem {
                let alreadyDone = state.lock.withLock { () -> Bool in
                    if state.exited { return true }
                    state.timedOut = true
                    return false
                }
                guard !alreadyDone else { return }
                onTimeout?(pid)
                Glibc.kill(-pid, SIGKILL)
            }
            timer = item
            let nanoseconds = Int(timeout.components.seconds) * 1_000_000_000 + Int(timeout.components.attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds), execute: item)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        state.lock.withLock { state.exited = true }
        timer?.cancel()
        group.wait()
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return state.lock.withLock {
            Output(exitCode: code, stdout: state.stdout, stderr: state.stderr, truncated: state.truncated, timedOut: state.timedOut)
        }
    }

    /// How a child stands apart from the control plane's signals.
    enum Session {
        /// A process group of its own (killed whole at a timeout).
        case ownGroup
        /// A session of its own (POSIX_SPAWN_SETSID, glibc 2.26).
        case ownSession
    }

    /// posix_spawnp with every signal unblocked and at its default, a minimal environment, and
    /// no descriptor above `lastInherited` (those the actions set up): libraries open sockets
    /// without close-on-exec (the database's, among them), and a child that outlives the
    /// control plane (a lease keeper, slirp4netns) must not hold them, or a crashed control
    /// plane's open transaction, and its locks, would live on in it.
    /// Returns the pid and posix_spawnp's result (0 on success).
    static func spawn(_ argv: [String], actions: inout posix_spawn_file_actions_t, session: Session,
                      lastInherited: Int32 = 2) -> (pid_t, Int32) {
        _ = posix_spawn_file_actions_addclosefrom_np(&actions, lastInherited + 1)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        switch session {
        case .ownGroup:
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        case .ownSession:
            flags |= 0x80  // POSIX_SPAWN_SETSID
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let environment = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = environment.map { strdup($0) } + [nil]
        defer {
            for pointer in cArgs { free(pointer) }
            for pointer in cEnv { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, argv[0], &actions, &attributes, &cArgs, &cEnv)
        return (pid, spawned)
    }

    /// Writes all of `bytes` to `fd` (retrying interrupted and short writes) until done or an error.
    @discardableResult
    static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 { if errno == EINTR { continue } else { return false } }
            offset += written
        }
        return true
    }

    private final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var stdout: [UInt8] = []
        var stderr: [UInt8] = []
        var truncated = false
        var timedOut = false
        var exited = false
    }
}

/// Host processes, read from /proc.
enum ProcessTable {
    /// The command line of `pid` (nil if it is gone).
    static func arguments(of pid: pid_t) -> [String]? {
        guard pid > 0, let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        return data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `s4a supervise <server> <role>` processes: `role` is a run id, or `--lease` for the watchdog.
    static func supervisorRole(of pid: pid_t, server id: String) -> String? {
        guard let arguments = arguments(of: pid), arguments.count >= 4, arguments[1] == "supervise", arguments[2] == id else {
            return nil
        }
        return arguments[3]
    }

    /// Kills `root` and every process below it. All are stopped first, until no new one
    /// appears, so none can fork or react (a parent shell running its next command) while the
    /// rest die.
    /// `server`: the root must still be in that server's cgroup; a pid from a pid file whose
    /// process has ended may have been given to anything else since.
    static func killTree(_ root: pid_t, server: String) {
        guard root > 1, let cgroups = try? String(contentsOfFile: "/proc/\(root)/cgroup", encoding: .utf8),
              cgroups.contains("/s4a/\(server)\n") else { return }
        Glibc.kill(root, SIGSTOP)
        var stopped: Set<pid_t> = [root]
        while true {
            let found = Set(descendants(of: root)).subtracting(stopped)
            guard !found.isEmpty else { break }
            for pid in found { Glibc.kill(pid, SIGSTOP) }
            stopped.formUnion(found)
        }
        for pid in stopped { Glibc.kill(pid, SIGKILL) }
    }

    /// Every descendant of `root` (not `root` itself), deepest last.
    static func descendants(of root: pid_t) -> [pid_t] {
        var children: [pid_t: [pid_t]] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after the command name: state, ppid, …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 1, let parent = pid_t(fields[1]) else { continue }
            children[parent, default: []].append(pid)
        }
        var result: [pid_t] = []
        var queue = children[root] ?? []
        while !queue.isEmpty {
            let pid = queue.removeFirst()
            result.append(pid)
            queue += children[pid] ?? []
        }
        return result
    }
}

/// pipe2(2): close-on-exec from birth, so a concurrent spawn never inherits another's pipe.
/// Glibc declares it only under _GNU_SOURCE, which the Swift module map does not set.
@_silgen_name("pipe2")
func systemPipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+): the child closes every descriptor
/// from `from` on. Declared by glibc only under _GNU_SOURCE, like pipe2.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
func posix_spawn_file_actions_addclosefrom_np(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
