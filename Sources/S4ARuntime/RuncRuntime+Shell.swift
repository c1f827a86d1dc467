import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// Interactive shells: `runc exec --tty` in the foreground on a host pseudo-terminal. runc
/// makes the server's terminal inside the server (its own devpts), copies between the two,
/// passes resizes on and exits with the shell's code.
extension RuncRuntime {
    public func shell(_ id: String, _ request: ShellRequest) async throws -> any ShellSession {
        try Self.checkID(id)
        guard try await status(id) == .running else { throw RuntimeError.notRunning }
        var process = ServerBundle.process(args: request.argv, env: request.env, cwd: request.cwd, hostname: id)
        process.terminal = true
        process.consoleSize = .init(height: request.size.rows, width: request.size.columns)
        let pidFile = layout.bundle(id) + "/shell-\(UUID().uuidString.prefix(8)).pid"
        // The process spec (environment included) reaches runc through a pipe, never a file.
        let terminal = try HostTerminal(
            [runc, "--root", layout.runcRoot, "exec", "--tty", "--process", "/proc/self/fd/3", "--pid-file", pidFile, id],
            rows: request.size.rows, columns: request.size.columns, fd3: try [UInt8](JSONEncoder().encode(process)))
        return RuncShellSession(terminal: terminal, pidFile: pidFile)
    }
}

/// One shell: the host end of its terminal, the `runc exec` that waits for it, and the
/// shell's pid (to end its whole tree).
final class RuncShellSession: ShellSession, @unchecked Sendable {
    let output: AsyncStream<[UInt8]>
    private let terminal: HostTerminal
    private let pidFile: String
    private let exit: Task<Int32, Never>
    private let writes = DispatchQueue(label: "s4a.shell.input")
    private let lock = NSLock()
    private var closed = false

    init(terminal: HostTerminal, pidFile: String) {
        self.terminal = terminal
        self.pidFile = pidFile
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        output = stream
        let master = terminal.master
        // A thread of its own: reads block until something is printed, and fail (EIO) once
        // runc, the only holder of the other end, has exited.
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(master, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                continuation.yield(Array(buffer[0..<count]))
            }
            continuation.finish()
        }
        reader.start()
        exit = Task.detached {
            await withCheckedContinuation { continuation in
                DispatchQueue.global().async { continuation.resume(returning: terminal.waitBlocking()) }
            }
        }
    }

    func write(_ bytes: [UInt8]) async {
        let master = terminal.master
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            writes.async { [self] in
                var offset = 0
                while offset < bytes.count, !isClosed {
                    let written = bytes[offset...].withUnsafeBytes { Glibc.write(master, $0.baseAddress, $0.count) }
                    if written < 0 { if errno == EINTR { continue } else { break } }
                    offset += written
                }
                continuation.resume()
            }
        }
    }

    func resize(_ size: TerminalSize) {
        guard !isClosed else { return }
        terminal.resize(rows: size.rows, columns: size.columns)
    }

    func wait() async -> Int32 {
        let code = await exit.value
        try? FileManager.default.removeItem(atPath: pidFile)
        return code
    }

    func terminate() async {
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
           let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            ProcessTable.killTree(pid)
        }
        _ = await wait()
    }

    private var isClosed: Bool { lock.withLock { closed } }

    deinit {
        lock.withLock { closed = true }
        close(terminal.master)
    }
}
