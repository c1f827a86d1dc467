import Foundation

/// A server's life: created running; stopped and started by people and agents; `exhausted`
/// when its budget runs out; `failed` when its container vanished; `deleted` at the end.
public enum ServerState: String, Sendable, Codable, CaseIterable {
    case creating, running, stopped, exhausted, failed, deleted

    /// The states a server may move to from this one.
    public var successors: Set<ServerState> {
        switch self {
        case .creating: [.running, .exhausted, .failed, .deleted]
        case .running: [.stopped, .exhausted, .failed, .deleted]
        case .stopped, .exhausted, .failed: [.running, .deleted]
        case .deleted: []
        }
    }

    public func canMove(to next: ServerState) -> Bool { successors.contains(next) }
}

public enum NetworkMode: String, Sendable, Codable, CaseIterable {
    /// Only its own loopback: no route anywhere.
    case none
    /// Outbound access through a user-mode network stack; the host stays unreachable.
    case egress
}

/// An isolated environment inside a project.
public struct Server: Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var accountID: String
    public var name: String
    public var template: String
    public var cpuMillis: Int
    public var memoryMB: Int
    public var diskMB: Int
    public var pidsLimit: Int
    public var budget: MicroDollars
    public var network: NetworkMode
    public var state: ServerState
    /// Which block of 65 536 host uids this server's user namespace maps to.
    public var uidSlot: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// Why the server last failed, for people.
    public var lastError: String?
    /// The API key that created it (nil: a person did); its cost counts against that key's bounds.
    public var createdByKeyID: String?

    public init(id: String, projectID: String, accountID: String, name: String, template: String, cpuMillis: Int,
                memoryMB: Int, diskMB: Int, pidsLimit: Int, budget: MicroDollars, network: NetworkMode, state: ServerState,
                uidSlot: Int, createdAt: Date, updatedAt: Date, lastError: String? = nil, createdByKeyID: String? = nil) {
        self.id = id
        self.projectID = projectID
        self.accountID = accountID
        self.name = name
        self.template = template
        self.cpuMillis = cpuMillis
        self.memoryMB = memoryMB
        self.diskMB = diskMB
        self.pidsLimit = pidsLimit
        self.budget = budget
        self.network = network
        self.state = state
        self.uidSlot = uidSlot
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastError = lastError
        self.createdByKeyID = createdByKeyID
    }

    /// The first host uid (and gid) of the server's range; container root maps here.
    public var hostUIDBase: Int { ServerLimits.uidRangeStart + uidSlot * ServerLimits.uidRangeSize }
}

extension Server {
    /// Where exec, the shell, deployments and file listings start, and what `HOME` says: one
    /// working directory everywhere (the client's `ServerPath` puts relative paths here too).
    public static let home = "/root"
}

/// Bounds on what a server may ask for; defaults when it asks for nothing.
public enum ServerLimits {
    /// A value outside its range is an invalid request (400); the contract states the same ranges.
    public static func check(_ field: String, _ value: Int, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else {
            throw DomainError.invalid(field, "must be \(range.lowerBound) to \(range.upperBound)")
        }
    }

    public static let cpuMillis = 100...4000
    public static let memoryMB = 64...8192
    public static let diskMB = 64...16384
    public static let defaultCPUMillis = 1000
    public static let defaultMemoryMB = 512
    public static let defaultDiskMB = 1024
    public static let defaultPids = 512
    /// The largest cap a key without `budget:write` may give a server it creates (1 USD): making
    /// servers is not a licence to spend without limit.
    public static let budgetWithoutScope = MicroDollars(1_000_000)
    /// Long-running processes (background runs, the app) a server may have at once, all under
    /// the server's one supervisor (whose host cgroup bounds what they cost the host).
    public static let maxSupervisedProcesses = 200
    /// What the store keeps of runs' output per server (in characters of stdout and stderr),
    /// and of how many runs: the newest keep theirs, older runs lose it.
    public static let runOutputPerServer: Int64 = 16 << 20
    public static let runOutputsPerServer = 1000
    /// Host uids below this are the host's own; each server gets the next free block.
    public static let uidRangeStart = 1_000_000
    public static let uidRangeSize = 65_536
    public static let maxSlots = 60_000
}

/// One command run in a server, with what it printed and how it ended.
public struct Run: Sendable, Equatable {
    public enum State: String, Sendable, Codable {
        case running, exited
        case timedOut = "timed_out"
        /// The control plane stopped while it ran; its outcome is unknown.
        case lost
    }

    public var id: String
    public var serverID: String
    public var accountID: String
    public var kind: String
    public var command: String
    public var state: State
    public var exitCode: Int?
    public var stdout: String
    public var stderr: String
    public var truncated: Bool
    public var startedAt: Date
    public var finishedAt: Date?
    /// CPU time the command and its children used, once it ended (nil: not measured).
    public var cpuMicros: Int64?
    /// Why it ended, once it has.
    public var endedBy: Ending?
    /// What to do about how it ended (a server run as a command: deploy it).
    public var hint: String?

    /// Why a run ended: it exited, its timeout or the kernel's OOM killer or the server's budget
    /// ended it, a signal did, or it was cancelled.
    public enum Ending: String, Sendable, Codable, CaseIterable {
        case exit, timeout, oom, budget, signal, cancelled
    }

    public init(id: String, serverID: String, accountID: String, kind: String, command: String, state: State,
                exitCode: Int?, stdout: String, stderr: String, truncated: Bool, startedAt: Date, finishedAt: Date?,
                cpuMicros: Int64? = nil, endedBy: Ending? = nil, hint: String? = nil) {
        self.cpuMicros = cpuMicros
        self.endedBy = endedBy
        self.hint = hint
        self.id = id
        self.serverID = serverID
        self.accountID = accountID
        self.kind = kind
        self.command = command
        self.state = state
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.truncated = truncated
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    /// Kinds: a command waited for, one left running under the supervisor, an interactive shell.
    public static let exec = "exec", background = "background", shell = "shell"

    public var durationMilliseconds: Int? {
        finishedAt.map { Int(($0.timeIntervalSince(startedAt) * 1000).rounded()) }
    }
}
