import Foundation
import S4ADomain

/// An in-memory `ContainerRuntime` for tests of the services' logic (no root, no runc): it
/// keeps each server's state, lease and processes, and fails where a test tells it to.
public final class FakeContainerRuntime: ContainerRuntime, @unchecked Sendable {
    /// Where a test can make it fail.
    public enum Operation: Hashable, Sendable { case prepare, start, stop, destroy, spawn, exec, setLease }

    public struct Server: Sendable {
        public var running = false
        public var leaseDeadline: Date?
        /// Set by `expireLease`: as the watchdog would, at the deadline.
        public var leaseExpiredAt: Date?
        public var processes: [String: ProcessStatus] = [:]
        public var stopCause: String?
    }

    private let lock = NSLock()
    private var servers: [String: Server] = [:]
    private var failing: Set<Operation> = []
    private var hanging: Set<Operation> = []
    private var waiting: Set<Operation> = []
    /// Every process request, per server, as the runtime received it (environment included).
    private var spawned: [String: [ProcessRequest]] = [:]
    /// What `status` says regardless of the truth (a runtime that lies), per server.
    private var statusOverride: [String: ContainerStatus?] = [:]
    public private(set) var calls: [String] = []
    public var now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = { Date() }) { self.now = now }

    // MARK: What a test does

    public func fail(_ operation: Operation) { lock.withLock { _ = failing.insert(operation) } }
    /// The operation waits (does not return) until `heal`ed: a runtime that hangs.
    public func hang(_ operation: Operation) { lock.withLock { _ = hanging.insert(operation) } }
    public func heal(_ operation: Operation) {
        lock.withLock {
            failing.remove(operation)
            hanging.remove(operation)
        }
    }
    public func processRequests(_ id: String) -> [ProcessRequest] { lock.withLock { spawned[id] ?? [] } }
    public func server(_ id: String) -> Server? { lock.withLock { servers[id] } }
    public func lieAboutStatus(_ id: String, _ status: ContainerStatus?) { lock.withLock { statusOverride[id] = .some(status) } }

    /// The watchdog reached the deadline: the container stops and the lease note says when.
    public func expireLease(_ id: String) {
        lock.withLock {
            guard var server = servers[id], let deadline = server.leaseDeadline else { return }
            server.running = false
            server.leaseExpiredAt = deadline
            servers[id] = server
        }
    }

    /// The container died on its own (its init was OOM-killed, say).
    public func die(_ id: String, cause: String) {
        lock.withLock {
            servers[id]?.running = false
            servers[id]?.stopCause = cause
        }
    }

    /// A supervised process exits (and is restarted `restarts` times by its policy).
    public func exitProcess(_ id: String, name: String, code: Int32, restarted: Bool) {
        lock.withLock {
            guard var status = servers[id]?.processes[name] else { return }
            status.exitCode = code
            if restarted {
                status.restarts += 1
                status.state = .running
                status.startedAt = now()
            } else {
                status.state = .exited
                status.finishedAt = now()
            }
            servers[id]?.processes[name] = status
        }
    }

    private func record(_ call: String, _ operation: Operation?) throws {
        try lock.withLock {
            calls.append(call)
            if let operation, failing.contains(operation) { throw FakeRuntimeError.failing(operation) }
        }
    }

    /// Waits while `operation` is made to hang.
    private func gate(_ operation: Operation) async {
        guard lock.withLock({ hanging.contains(operation) }) else { return }
        lock.withLock { _ = waiting.insert(operation) }
        while lock.withLock({ hanging.contains(operation) }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
        lock.withLock { _ = waiting.remove(operation) }
    }

    /// Whether a call is held by `hang(operation)` right now.
    public func isWaiting(_ operation: Operation) -> Bool { lock.withLock { waiting.contains(operation) } }

    private func requireRunning(_ id: String) throws {
        guard lock.withLock({ servers[id]?.running == true }) else { throw FakeRuntimeError.notRunning }
    }

    // MARK: ContainerRuntime

    public func prepare(_ spec: ContainerSpec) async throws {
        try record("prepare \(spec.id)", .prepare)
        lock.withLock { servers[spec.id] = servers[spec.id] ?? Server() }
    }

    public func start(_ spec: ContainerSpec) async throws {
        await gate(.start)
        try record("start \(spec.id)", .start)
        lock.withLock {
            var server = servers[spec.id] ?? Server()
            server.running = true
            server.leaseExpiredAt = nil
            server.stopCause = nil
            servers[spec.id] = server
        }
    }

    public func exec(_ id: String, _ request: ExecRequest) async throws -> ExecResult {
        try record("exec \(id) \(request.argv.joined(separator: " "))", .exec)
        try requireRunning(id)
        return ExecResult(exitCode: 0, stdout: [], stderr: [], truncated: false, timedOut: false)
    }

    public func connect(_ id: String, port: Int) async throws -> Int32 { throw FakeRuntimeError.notRunning }

    public func setLease(_ id: String, deadline: Date) async throws {
        try record("lease \(id)", .setLease)
        lock.withLock { servers[id]?.leaseDeadline = deadline }
    }

    public func leaseExpired(_ id: String) async throws -> Date? { lock.withLock { servers[id]?.leaseExpiredAt } }

    public func shell(_ id: String, _ request: ShellRequest) async throws -> any ShellSession { throw FakeRuntimeError.notRunning }

    public func spawn(_ id: String, _ request: ProcessRequest) async throws {
        try record("spawn \(id) \(request.name)", .spawn)
        try requireRunning(id)
        lock.withLock {
            spawned[id, default: []].append(request)
            servers[id]?.processes[request.name] = ProcessStatus(state: .running, startedAt: now())
        }
    }

    public func probe(_ id: String, port: Int, path: String?, timeout: Duration) async -> ProbeOutcome {
        let answers = lock.withLock { servers[id]?.running == true && servers[id]?.processes.values.contains { $0.state == .running } == true }
        return ProbeOutcome(healthy: answers, milliseconds: 1, detail: answers ? "answered" : "connection refused")
    }

    public func listeners(_ id: String) async -> [PortListener] { [] }

    public func endProcess(_ id: String, name: String) async throws {
        lock.withLock {
            servers[id]?.processes[name]?.state = .exited
            servers[id]?.processes[name]?.finishedAt = now()
        }
    }

    public func processStatus(_ id: String, name: String) async throws -> ProcessStatus? {
        lock.withLock { servers[id]?.processes[name] }
    }

    public func kill(_ id: String, signal: Int32) async throws { try record("kill \(id) \(signal)", nil) }

    public func status(_ id: String) async throws -> ContainerStatus? {
        lock.withLock {
            if let lie = statusOverride[id] { return lie }
            guard let server = servers[id] else { return nil }
            return server.running ? .running : .stopped
        }
    }

    public func stopCause(_ id: String) async -> String? { lock.withLock { servers[id]?.stopCause } }

    public func stats(_ id: String) async throws -> ContainerStats? {
        lock.withLock { servers[id]?.running == true } ? ContainerStats(cpuNanoseconds: 0, memoryBytes: 0, pids: 1, diskBytes: 0,
                                                                         networkReceivedBytes: 0, networkSentBytes: 0) : nil
    }

    public func stop(_ id: String) async throws {
        await gate(.stop)
        try record("stop \(id)", .stop)
        lock.withLock {
            servers[id]?.running = false
            for name in servers[id]?.processes.keys.sorted() ?? [] { servers[id]?.processes[name]?.state = .exited }
        }
    }

    public func destroy(_ id: String) async throws {
        try record("destroy \(id)", .destroy)
        lock.withLock { servers[id] = nil }
    }

    public func list() async throws -> [String] { lock.withLock { servers.keys.sorted() } }

    public func templates() async throws -> [String] { ["base"] }

    public func removeOrphans(keeping keep: Set<String>) async throws -> [String] {
        lock.withLock {
            let orphans = servers.keys.filter { !keep.contains($0) }.sorted()
            for id in orphans { servers[id] = nil }
            return orphans.map { "container \($0)" }
        }
    }

    // MARK: ServerLogReader

    public func readLogs(_ id: String, after cursor: LogCursor?) async throws -> (lines: [LogLine], cursor: LogCursor) {
        ([], cursor ?? LogCursor())
    }

    public func logAccess(_ id: String, _ line: String) {}

    public func pruneLogs(before: Date) async throws -> [String: Int64] { [:] }

    // MARK: ServerFilesystem

    public func listDirectory(_ server: ContainerSpec, _ path: String) async throws -> [FileEntry] { [] }
    public func openFile(_ server: ContainerSpec, _ path: String) async throws -> any ServerFileReader { throw FakeRuntimeError.notRunning }
    public func writeFile(_ server: ContainerSpec, _ path: String, bytes: [UInt8]) async throws {}
    public func remove(_ server: ContainerSpec, _ path: String) async throws {}
    public func archive(_ server: ContainerSpec, directory: String, prefix: String) async throws -> any ServerTreeArchive {
        throw FakeRuntimeError.notRunning
    }
    public func unpack(_ server: ContainerSpec, directory: String, archive: [UInt8]) async throws {}
}

public enum FakeRuntimeError: Error, Equatable {
    /// A test made this operation fail.
    case failing(FakeContainerRuntime.Operation)
    case notRunning
}
