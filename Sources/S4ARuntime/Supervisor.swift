import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// What a supervisor is told on its stdin (never in a file: the environment may hold secrets).
struct SupervisorSpec: Codable {
    var serverID: String
    var request: Request
    var runc: String
    var runcRoot: String
    var logsDirectory: String
    var recordFile: String

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

/// What a supervisor keeps saying of its process, in `processes/<name>.json`.
struct SupervisorRecord: Codable {
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

/// The per-server process supervisor (as conmon is for CRI-O): a small host process, apart
/// from the control plane, that runs one long-running process in a server with `runc exec`,
/// holds its stdio, writes its output to the server's logs, records how it ended and restarts
/// it by its policy with exponential backoff. It ends when its process ends for good or the
/// server stops. `s4a supervise` runs it; `RuncRuntime.spawn` starts that, detached.
public enum Supervisor {
    /// Reads the spec from stdin and supervises until the process ends for good.
    public static func main() async -> Int32 {
        let input = FileHandle.standardInput.readDataToEndOfFile()
        guard let spec = try? JSONDecoder().decode(SupervisorSpec.self, from: input) else {
            FileHandle.standardError.write(Data("s4a supervise: expected the process spec on stdin\n".utf8))
            return 2
        }
        do {
            try await supervise(spec)
            return 0
        } catch {
            FileHandle.standardError.write(Data("s4a supervise: \(error)\n".utf8))
            return 1
        }
    }

    static let maxBackoff: Duration = .seconds(60)

    static func supervise(_ spec: SupervisorSpec) async throws {
        let request = spec.request
        let log = try ServerLogWriter(directory: spec.logsDirectory, process: request.name, masker: SecretMasker(request.masked))
        var record = SupervisorRecord(pid: getpid(), status: ProcessStatus(state: .starting, startedAt: Date()))
        record.write(to: spec.recordFile)
        let process = ServerBundle.process(args: request.argv, env: request.env, cwd: request.cwd, hostname: spec.serverID)
        let processJSON = try [UInt8](JSONEncoder().encode(process))
        let cgroup = RunCgroup(runcRoot: spec.runcRoot, id: spec.serverID, name: request.name)
        // SIGTERM ends the process for good (it was replaced): every process it started goes,
        // and it is not restarted.
        signal(SIGTERM, SIG_IGN)
        let ending = Flag()
        let terminate = DispatchSource.makeSignalSource(signal: SIGTERM)
        terminate.setEventHandler {
            ending.set()
            cgroup?.killAll()
        }
        terminate.resume()
        var backoff: Duration = .seconds(1)
        while true {
            if ending.isSet {
                log.system("ended")
                finish(&record, exitCode: record.status.exitCode, at: spec.recordFile)
                return
            }
            guard await containerRunning(spec) else {
                log.system("the server stopped; not starting \(request.name)")
                finish(&record, exitCode: record.status.exitCode, at: spec.recordFile)
                return
            }
            let started = ContinuousClock.now
            record.status.state = .running
            record.status.startedAt = Date()
            record.write(to: spec.recordFile)
            log.system(record.status.restarts == 0 ? "started" : "restarted (\(record.status.restarts))")
            let output = try await ChildProcess.run(
                [spec.runc, "--root", spec.runcRoot, "exec", "--process", "/proc/self/fd/3"]
                    + (cgroup.map { ["--cgroup", $0.argument] } ?? []) + [spec.serverID],
                fd3: processJSON, collect: false,
                onOutput: { kind, bytes in log.append(kind == .stdout ? .stdout : .stderr, bytes) })
            log.flush()
            record.status.exitCode = output.exitCode
            record.status.cpuNanoseconds = cgroup?.cpuNanoseconds ?? record.status.cpuNanoseconds
            log.system("exited with code \(output.exitCode)")
            let again = switch request.restart {
            case .never: false
            case .onFailure: output.exitCode != 0
            case .always: true
            }
            guard again, !ending.isSet, await containerRunning(spec) else {
                if ending.isSet { log.system("ended") }
                finish(&record, exitCode: output.exitCode, at: spec.recordFile)
                return
            }
            // A process that ran a while earns a fresh backoff; a crash loop waits longer each time.
            if ContinuousClock.now - started > maxBackoff { backoff = .seconds(1) }
            record.status.state = .backoff
            record.write(to: spec.recordFile)
            log.system("restarting in \(backoff.components.seconds) s")
            for _ in 0..<Int(backoff.components.seconds * 10) where !ending.isSet { try await Task.sleep(for: .milliseconds(100)) }
            backoff = min(backoff * 2, maxBackoff)
            record.status.restarts += 1
        }
    }

    /// Set once, from a signal handler's queue, read by the loop.
    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.withLock { value = true } }
        var isSet: Bool { lock.withLock { value } }
    }

    private static func finish(_ record: inout SupervisorRecord, exitCode: Int32?, at path: String) {
        record.status.state = .exited
        record.status.exitCode = exitCode
        record.status.finishedAt = Date()
        record.write(to: path)
    }

    private static func containerRunning(_ spec: SupervisorSpec) async -> Bool {
        // As the watchdog reads it, without a process; runc only when its state file is unclear.
        if case .status(let status) = ContainerState.read(runcRoot: spec.runcRoot, id: spec.serverID) { return status == .running }
        guard let output = try? await ChildProcess.run([spec.runc, "--root", spec.runcRoot, "state", spec.serverID]),
              output.exitCode == 0,
              let object = try? JSONSerialization.jsonObject(with: Data(output.stdout)) as? [String: Any] else { return false }
        return object["status"] as? String == "running"
    }
}
