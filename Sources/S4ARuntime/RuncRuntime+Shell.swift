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
        return RuncShellSession(terminal: terminal, pidFile: pidFile, serverID: id)
    }
}

/// One shell: the host end of its terminal, the `runc exec` that waits for it, and the
/// shell's pid (to end its whole tree).
final class RuncShellSession: ShellSession, @unchecked Sendable {
    let output: AsyncStream<[UInt8]>
    private let terminal: HostTerminal
    private let pidFile: String
    private let serverID: String
    private let exit: Task<Int32, Never>
    private let writes = DispatchQueue(label: "s4a.shell.input")
    /// Guards the terminal's descriptor: closed once, by the reader, never used after.
    private let descriptor: TerminalDescriptor

    init(terminal: HostTerminal, pidFile: String, serverID: String) {
        self.terminal = terminal
        self.pidFile = pidFile
        self.serverID = serverID
        let descriptor = TerminalDescriptor(terminal.master)
        self.descriptor = descriptor
        let (stream, continuation) = AsyncStream.makeStream(of: [UInt8].self)
        output = stream
        // A thread of its own: reads block until something is printed, and fail (EIO) once
        // runc, the only holder of the other end, has exited. Then it closes the descriptor.
        let reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 16384)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor.fd, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                continuation.yield(Array(buffer[0..<count]))
            }
            descriptor.close()
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
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            writes.async { [descriptor] in
                var offset = 0
                while offset < bytes.count {
                    let written = descriptor.use { fd in
                        bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                    }
                    guard let written else { break }
                    if written < 0 { if errno == EINTR { continue } else { break } }
                    offset += written
                }
                continuation.resume()
            }
        }
    }

    func resize(_ size: TerminalSize) {
        _ = descriptor.use { _ in terminal.resize(rows: size.rows, columns: size.columns) }
    }

    func wait() async -> Int32 {
        let code = await exit.value
        try? FileManager.default.removeItem(atPath: pidFile)
        return code
    }

    func terminate() async {
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
           let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            ProcessTable.killTree(pid, server: serverID)
        }
        _ = await wait()
    }
}

/// A descriptor used by several threads and closed by one: nobody touches it after the close
/// (a closed number is soon another file's).
final class TerminalDescriptor: @unchecked Sendable {
    let fd: Int32
    private let lock = NSLock()
    private var closed = false

    init(_ fd: Int32) { self.fd = fd }

    /// `body` with the descriptor, or nil once it is closed.
    func use<T>(_ body: (Int32) -> T) -> T? {
        lock.withLock { closed ? nil : body(fd) }
    }

    func close() {
        lock.withLock {
            guard !closed else { return }
            closed = true
            _ = Glibc.close(fd)
        }
    }
}
