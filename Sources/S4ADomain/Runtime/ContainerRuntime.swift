import Foundation

/// What the runtime needs to run one server: shaped after the server, not after runc.
public struct ContainerSpec: Sendable, Equatable {
    public var id: String
    public var template: String
    public var cpuMillis: Int
    public var memoryMB: Int
    public var diskMB: Int
    public var pidsLimit: Int
    public var network: NetworkMode
    public var hostUIDBase: Int
    public var uidCount: Int

    public init(server: Server) {
        id = server.id
        template = server.template
        cpuMillis = server.cpuMillis
        memoryMB = server.memoryMB
        diskMB = server.diskMB
        pidsLimit = server.pidsLimit
        network = server.network
        hostUIDBase = server.hostUIDBase
        uidCount = ServerLimits.uidRangeSize
    }
}

public enum ContainerStatus: String, Sendable {
    case running, stopped
    /// The container exists but is paused (cgroup freezer).
    case paused
}

/// One process to run inside a server.
public struct ExecRequest: Sendable {
    public var argv: [String]
    public var cwd: String
    public var env: [String: String]
    public var stdin: [UInt8]
    public var timeout: Duration
    /// Bytes kept per stream; the rest is drained and dropped.
    public var outputLimit: Int
    /// Called with each piece of output as it arrives (within the limit), for streaming.
    public var onOutput: (@Sendable (OutputStreamKind, [UInt8]) -> Void)?

    public init(argv: [String], cwd: String = Server.home, env: [String: String] = [:], stdin: [UInt8] = [],
                timeout: Duration = .seconds(60), outputLimit: Int = 1 << 20,
                onOutput: (@Sendable (OutputStreamKind, [UInt8]) -> Void)? = nil) {
        self.onOutput = onOutput
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.stdin = stdin
        self.timeout = timeout
        self.outputLimit = outputLimit
    }
}

public enum OutputStreamKind: String, Sendable { case stdout, stderr }

public struct ExecResult: Sendable, Equatable {
    public var exitCode: Int32
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var truncated: Bool
    public var timedOut: Bool
    /// CPU time of the command and everything it started (nil where it could not be measured).
    public var cpuNanoseconds: UInt64?
    /// Killed by the kernel because the server ran out of memory.
    public var outOfMemory: Bool
    /// TCP ports the command was listening on when its timeout killed it.
    public var listeningPorts: [Int]
    public init(exitCode: Int32, stdout: [UInt8], stderr: [UInt8], truncated: Bool, timedOut: Bool,
                cpuNanoseconds: UInt64? = nil, outOfMemory: Bool = false, listeningPorts: [Int] = []) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.truncated = truncated
        self.timedOut = timedOut
        self.cpuNanoseconds = cpuNanoseconds
        self.outOfMemory = outOfMemory
        self.listeningPorts = listeningPorts
    }
}

/// What a running server uses right now, read from its cgroup, its disk and its network
/// namespace. Counters (CPU, network) are cumulative since the server started.
public struct ContainerStats: Sendable, Equatable {
    public var cpuNanoseconds: UInt64
    public var memoryBytes: UInt64
    public var pids: UInt64
    public var diskBytes: UInt64
    public var networkReceivedBytes: UInt64
    public var networkSentBytes: UInt64
    public init(cpuNanoseconds: UInt64, memoryBytes: UInt64, pids: UInt64, diskBytes: UInt64 = 0,
                networkReceivedBytes: UInt64 = 0, networkSentBytes: UInt64 = 0) {
        self.cpuNanoseconds = cpuNanoseconds
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.diskBytes = diskBytes
        self.networkReceivedBytes = networkReceivedBytes
        self.networkSentBytes = networkSentBytes
    }
}

/// The isolation boundary, shaped like containerd's task API. One production implementation
/// runs `runc`; the control plane knows nothing of bundles, mounts or loop devices.
public protocol ContainerRuntime: ServerLogReader, ServerFilesystem {
    /// Makes the server's persistent disk (once, at creation).
    func prepare(_ spec: ContainerSpec) async throws
    /// Mounts the disk and starts the container; its processes then outlive the control plane.
    func start(_ spec: ContainerSpec) async throws
    /// Runs one process to completion (or timeout, which kills its whole tree).
    func exec(_ id: String, _ request: ExecRequest) async throws -> ExecResult
    /// A TCP connection (a socket file descriptor, the caller's to close) to `port` on the
    /// server's own loopback, made from the host: how the proxy reaches an app.
    func connect(_ id: String, port: Int) async throws -> Int32
    /// The server may run until `deadline`; past it, a watchdog next to the server kills its
    /// processes whether or not the control plane is alive. Renewing moves the deadline.
    func setLease(_ id: String, deadline: Date) async throws
    /// When the watchdog stopped the server at its deadline (since its last start), if it did.
    func leaseExpired(_ id: String) async throws -> Date?
    /// Starts an interactive process on a pseudo-terminal inside the server.
    func shell(_ id: String, _ request: ShellRequest) async throws -> any ShellSession
    /// Starts a long-running process under the server's supervisor and returns once it runs.
    func spawn(_ id: String, _ request: ProcessRequest) async throws
    /// Probes the app on `port` inside the server: a TCP connect, or an HTTP GET of `path`.
    func probe(_ id: String, port: Int, path: String?, timeout: Duration) async -> ProbeOutcome
    /// The TCP ports something in the server listens on, each with the long-running process
    /// (a run id, or a deployment's process) that holds it when one does.
    func listeners(_ id: String) async -> [PortListener]
    /// Ends a long-running process for good (it is not restarted), with everything it started.
    func endProcess(_ id: String, name: String) async throws
    /// nil when the server never had a process of that name (or its record is gone).
    func processStatus(_ id: String, name: String) async throws -> ProcessStatus?
    func kill(_ id: String, signal: Int32) async throws
    /// nil when no such container runs or exists.
    func status(_ id: String) async throws -> ContainerStatus?
    /// Why the server's container stopped on its own ("out of memory", …); nil while it runs or
    /// when that cannot be told from its files (never runs a program: called every second).
    func stopCause(_ id: String) async -> String?
    /// nil when the server is not running. Reads files only: the sampler calls it for every
    /// running server every few seconds.
    func stats(_ id: String) async throws -> ContainerStats?
    /// Stops the container and unmounts its disk; the disk stays for the next start.
    func stop(_ id: String) async throws
    /// Stops if needed and removes everything of the server, its disk included.
    func destroy(_ id: String) async throws
    /// Ids of the containers this runtime has, running or not.
    func list() async throws -> [String]
    /// The template names this runtime can start.
    func templates() async throws -> [String]
    /// Removes what belongs to no server in `keep`: containers, mounts, loop devices, cgroups.
    func removeOrphans(keeping keep: Set<String>) async throws -> [String]
}

/// A TCP port a server listens on, and the supervised process holding it (nil: another process).
public struct PortListener: Sendable, Equatable {
    public var port: Int
    public var process: String?
    public init(port: Int, process: String?) {
        self.port = port
        self.process = process
    }
}

/// A server already has as many supervised processes as it may (`ServerLimits`).
public struct TooManyProcesses: Error, Equatable {
    public var limit: Int
    public init(limit: Int) { self.limit = limit }
}

/// When a supervised process that ended is started again.
public enum RestartPolicy: String, Sendable, Codable, CaseIterable {
    case never
    case onFailure = "on-failure"
    case always
}

/// A long-running process under the server's supervisor: it outlives the request and the
/// control plane, and its output goes, line by line and timestamped, to the server's logs.
public struct ProcessRequest: Sendable {
    /// Names the process, its status and its log lines (a run id).
    public var name: String
    public var argv: [String]
    public var cwd: String
    public var env: [String: String]
    public var restart: RestartPolicy
    /// Secret values the process receives: masked (`***`) in its logs.
    public var masked: [String]

    public init(name: String, argv: [String], cwd: String = Server.home, env: [String: String] = [:], restart: RestartPolicy = .never,
                masked: [String] = []) {
        self.name = name
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.restart = restart
        self.masked = masked
    }
}

/// What a supervisor last said of its process.
public struct ProcessStatus: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable {
        case starting, running, backoff
        /// Ended for good (its policy does not restart it, or the server stopped).
        case exited
    }

    public var state: State
    public var exitCode: Int32?
    public var restarts: Int
    public var startedAt: Date
    public var finishedAt: Date?
    /// CPU time of every run of the process so far (read each time it exits).
    public var cpuNanoseconds: UInt64?

    public init(state: State, exitCode: Int32? = nil, restarts: Int = 0, startedAt: Date, finishedAt: Date? = nil,
                cpuNanoseconds: UInt64? = nil) {
        self.state = state
        self.exitCode = exitCode
        self.restarts = restarts
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.cpuNanoseconds = cpuNanoseconds
    }
}

/// One timestamped line a server's long-running process printed (or its supervisor said).
public struct LogLine: Sendable, Equatable, Codable {
    public enum Stream: String, Sendable, Codable { case stdout, stderr, system }

    public var time: Date
    public var stream: Stream
    /// The process (run id) that printed it.
    public var process: String
    public var text: String

    public init(time: Date, stream: Stream, process: String, text: String) {
        self.time = time
        self.stream = stream
        self.process = process
        self.text = text
    }

    enum CodingKeys: String, CodingKey {
        case time = "t", stream = "s", process = "p", text = "m"
    }
}

/// Where a reader of a server's logs got to: per log file, the bytes already read.
public struct LogCursor: Sendable, Equatable {
    public var offsets: [String: UInt64]
    public init(offsets: [String: UInt64] = [:]) { self.offsets = offsets }
}

/// A server's logs: what its supervised processes printed.
public protocol ServerLogReader: Sendable {
    /// Lines after `cursor` (all kept lines without one), oldest first, and where that left off.
    func readLogs(_ id: String, after cursor: LogCursor?) async throws -> (lines: [LogLine], cursor: LogCursor)
    /// Appends one line of the ingress (a request to the server's app) to its logs.
    func logAccess(_ id: String, _ line: String)
    /// Deletes every server's log lines older than `before`; how many went, per UTC day.
    func pruneLogs(before: Date) async throws -> [String: Int64]
}

/// A terminal's size in character cells.
public struct TerminalSize: Sendable, Equatable {
    public var columns: Int
    public var rows: Int
    public init(columns: Int, rows: Int) {
        self.columns = columns
        self.rows = rows
    }
    public static let standard = TerminalSize(columns: 80, rows: 24)
    public static let range = 1...1000
}

/// An interactive process on a pseudo-terminal inside a server.
public struct ShellRequest: Sendable {
    public var argv: [String]
    public var cwd: String
    public var env: [String: String]
    public var size: TerminalSize

    public init(argv: [String], cwd: String = Server.home, env: [String: String] = [:], size: TerminalSize = .standard) {
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.size = size
    }
}

/// A running shell: its terminal's output, input and size, and its end.
public protocol ShellSession: Sendable {
    /// What the terminal shows, as it comes; ends when the shell's terminal closes.
    var output: AsyncStream<[UInt8]> { get }
    /// Typed input.
    func write(_ bytes: [UInt8]) async
    func resize(_ size: TerminalSize)
    /// The shell's exit code, once it has ended.
    func wait() async -> Int32
    /// Ends the shell and everything it started (the client went away).
    func terminate() async
}

/// One health probe's answer.
public struct ProbeOutcome: Sendable, Equatable {
    public var healthy: Bool
    public var milliseconds: Int
    public var detail: String
    public init(healthy: Bool, milliseconds: Int, detail: String) {
        self.healthy = healthy
        self.milliseconds = milliseconds
        self.detail = detail
    }
}
