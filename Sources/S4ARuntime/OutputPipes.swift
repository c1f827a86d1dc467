import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// The stdout and stderr of one supervised process: pipes whose write ends `runc exec
/// --detach` hands to the process, read without a thread each (dispatch sources on one
/// queue) into the process's log until every holder has closed them.
final class OutputPipes: @unchecked Sendable {
    private static let queue = DispatchQueue(label: "s4a.supervisor.output")
    private let log: ServerLogWriter
    private let lock = NSLock()
    private var writeEnds: [Int32] = []
    private var readers: [DispatchSourceRead] = []
    private var open = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init?(log: ServerLogWriter) {
        self.log = log
        var fds: [Int32] = [0, 0, 0, 0]
        guard systemPipe2(&fds[0], O_CLOEXEC) == 0 else { return nil }
        guard fds.withUnsafeMutableBufferPointer({ systemPipe2($0.baseAddress! + 2, O_CLOEXEC) }) == 0 else {
            close(fds[0])
            close(fds[1])
            return nil
        }
        writeEnds = [fds[1], fds[3]]
        open = 2
        for (fd, stream) in [(fds[0], LogLine.Stream.stdout), (fds[2], .stderr)] {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: Self.queue)
            source.setEventHandler { [self] in readAvailable(fd, stream, source) }
            source.setCancelHandler { [self] in
                close(fd)
                closed()
            }
            readers.append(source)
        }
    }

    /// Starts `argv` (runc) with these pipes as its stdout and stderr, /dev/null as stdin and
    /// `fd3` readable on fd 3; returns its pid. The write ends are closed here once it has
    /// them, so the pipes end when the process (and whatever inherited them) is gone.
    func spawn(_ argv: [String], fd3: [UInt8]) -> pid_t? {
        var extra: [Int32] = [0, 0]
        // Whatever happens, the write ends go and the readers start: a runc that never ran
        // leaves pipes that end at once.
        defer {
            closeWriteEnds()
            for reader in readers { reader.resume() }
        }
        guard systemPipe2(&extra, O_CLOEXEC) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnds[0], 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnds[1], 2)
        posix_spawn_file_actions_adddup2(&actions, extra[0], 3)
        let (pid, spawned) = ChildProcess.spawn(argv, actions: &actions, session: .ownGroup, lastInherited: 3)
        close(extra[0])
        guard spawned == 0 else {
            close(extra[1])
            return nil
        }
        // A pipe holds 64 KiB: a larger spec is written while runc reads it.
        let writeEnd = extra[1]
        DispatchQueue.global().async {
            ChildProcess.writeAll(fd3, to: writeEnd)
            close(writeEnd)
        }
        return pid
    }

    /// Returns once both pipes have ended, or after `limit`. Reading goes on after that.
    func drained(within limit: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done: Bool = lock.withLock {
                if open == 0 { return true }
                waiters.append(continuation)
                return false
            }
            if done {
                continuation.resume()
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(limit.components.seconds * 1000))) { [self] in
                wake()
            }
        }
    }

    private func closeWriteEnds() {
        let ends = lock.withLock {
            defer { writeEnds = [] }
            return writeEnds
        }
        for fd in ends { close(fd) }
    }

    /// Reads until the pipe is empty: the source may not fire again for what is already there
    /// (the last lines then waited for the pipe's end, and were logged after the exit). A pipe
    /// that keeps filling yields the queue after a few reads and continues after the others.
    private func readAvailable(_ fd: Int32, _ stream: LogLine.Stream, _ source: DispatchSourceRead) {
        // Cancelled: the descriptor is closed (or about to be) and its number may be another's.
        guard !source.isCancelled else { return }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var reads = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                log.append(stream, Array(buffer[..<count]))
                reads += 1
                if reads == 16 {
                    // Dispatch sources are thread-safe; the corelibs just do not say Sendable.
                    nonisolated(unsafe) let source = source
                    Self.queue.async { [self] in readAvailable(fd, stream, source) }
                    return
                }
                continue
            }
            if count < 0, errno == EINTR { continue }
            if count < 0, errno == EAGAIN { return }
            source.cancel()
            return
        }
    }

    private func closed() {
        let ready: Bool = lock.withLock {
            open -= 1
            return open == 0
        }
        if ready { wake() }
    }

    private func wake() {
        let woken = lock.withLock {
            defer { waiters = [] }
            return waiters
        }
        for waiter in woken { waiter.resume() }
    }
}
