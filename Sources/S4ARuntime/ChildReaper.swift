import CS4ASys
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one place a supervisor waits for its children. It is a child subreaper, so the
/// processes `runc exec --detach` leaves behind become its children when runc exits; one
/// thread reaps every child (`waitpid(-1)`) and hands each exit status to whoever waits for
/// that pid. Nothing else in the process may call `waitpid`: it would steal statuses.
final class ChildReaper: @unchecked Sendable {
    private let lock = NSLock()
    /// Statuses that arrived before anyone asked (a process can end before its pid file is read).
    private var unclaimed: [pid_t: Int32] = [:]
    private var waiters: [pid_t: CheckedContinuation<Int32, Never>] = [:]

    /// Makes this process the subreaper of its descendants and starts reaping.
    init() {
        _ = s4a_set_child_subreaper()
        let thread = Thread { [self] in loop() }
        thread.name = "reaper"
        thread.start()
    }

    /// The exit code of child `pid` (a signal's as 128 + its number), once it has ended.
    func exitCode(of pid: pid_t) async -> Int32 {
        await withCheckedContinuation { continuation in
            let ready: Int32? = lock.withLock {
                if let status = unclaimed.removeValue(forKey: pid) { return status }
                waiters[pid] = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func loop() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid < 0 {
                // No children at the moment: look again shortly.
                if errno != EINTR { usleep(50_000) }
                continue
            }
            let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            let waiter: CheckedContinuation<Int32, Never>? = lock.withLock {
                if let waiter = waiters.removeValue(forKey: pid) { return waiter }
                // Bounded: processes nobody waits for (a grandchild reparented here) are dropped
                // once the table grows, so a fork bomb cannot grow it without end.
                if unclaimed.count > 4096 { unclaimed.removeAll() }
                unclaimed[pid] = code
                return nil
            }
            waiter?.resume(returning: code)
        }
    }
}
