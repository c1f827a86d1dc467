import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A pseudo-terminal on the host and a program spawned on its slave end, in a session of its
/// own. For `runc exec --tty` in the foreground: runc makes the server's own terminal inside
/// the server and copies between it and this one, taking its size from this one when told
/// (SIGWINCH), and exits with the shell's exit code.
final class HostTerminal: @unchecked Sendable {
    let master: Int32
    let pid: pid_t

    /// Spawns `argv` on a new terminal of `size`; `fd3` is written to its fd 3 (the process spec).
    init(_ argv: [String], rows: Int, columns: Int, fd3: [UInt8]) throws {
        // /dev/ptmx, unlocked, and the slave opened from the master (TIOCGPTPEER): no path race.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard master >= 0 else { throw RuntimeError.failed("no pseudo-terminal (\(errno))") }
        var unlock: Int32 = 0
        let slave = withUnsafeMutablePointer(to: &unlock) { ioctl(master, Self.unlockRequest, $0) } == 0
            ? ioctl(master, Self.peerRequest, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1
        guard slave >= 0 else {
            close(master)
            throw RuntimeError.failed("cannot open the pseudo-terminal (\(errno))")
        }
        defer { close(slave) }
        Self.setSize(master, rows: rows, columns: columns)

        var spec: [Int32] = [0, 0]
        guard systemPipe2(&spec, O_CLOEXEC) == 0 else {
            close(master)
            throw RuntimeError.failed("pipe: \(errno)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd in Int32(0)...2 { posix_spawn_file_actions_adddup2(&actions, slave, fd) }
        posix_spawn_file_actions_adddup2(&actions, spec[0], 3)
        // A session of its own, apart from the control plane's signals.
        let (pid, spawned) = ChildProcess.spawn(argv, actions: &actions, session: .ownSession, lastInherited: 3)
        close(spec[0])
        guard spawned == 0 else {
            close(spec[1])
            close(master)
            throw RuntimeError.failed("cannot start \(argv[0]): \(String(cString: strerror(spawned)))")
        }
        ChildProcess.writeAll(fd3, to: spec[1])
        close(spec[1])
        self.master = master
        self.pid = pid
    }

    /// TIOCSPTLCK and TIOCGPTPEER (asm-generic/ioctls.h), which Glibc's module does not export.
    static let unlockRequest: UInt = 0x4004_5431
    static let peerRequest: UInt = 0x5441

    /// Sets the size and tells the program to take it over.
    func resize(rows: Int, columns: Int) {
        Self.setSize(master, rows: rows, columns: columns)
        Glibc.kill(pid, SIGWINCH)
    }

    /// Blocks until the program ends; its exit code (128 + signal if killed).
    func waitBlocking() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    private static func setSize(_ fd: Int32, rows: Int, columns: Int) {
        var window = winsize(ws_row: UInt16(clamping: rows), ws_col: UInt16(clamping: columns), ws_xpixel: 0, ws_ypixel: 0)
        _ = withUnsafeMutablePointer(to: &window) { ioctl(fd, UInt(TIOCSWINSZ), $0) }
    }
}
