import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// Reaching a server's port from the host without giving the server an address the host can
/// route to: a thread of ours joins the server's network namespace just long enough to make
/// a socket there, then leaves; the socket keeps belonging to the server's namespace and
/// connects to the server's own loopback (as kubelet's port-forward did with nsenter).
extension RuncRuntime {
    public func connect(_ id: String, port: Int) async throws -> Int32 {
        try Self.checkID(id)
        guard (1...65535).contains(port) else { throw RuntimeError.failed("invalid port") }
        guard let text = try? String(contentsOfFile: layout.bundle(id) + "/init.pid", encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              try await status(id) == .running else { throw RuntimeError.notRunning }
        let namespace = open("/proc/\(pid)/ns/net", O_RDONLY | O_CLOEXEC)
        guard namespace >= 0 else { throw RuntimeError.notRunning }
        defer { close(namespace) }
        let fd: Int32 = try await withCheckedThrowingContinuation { continuation in
            // A thread of its own: namespaces belong to threads, and this one never runs other work.
            Thread.detachNewThread {
                continuation.resume(with: Result { try Self.socketInNamespace(namespace) })
            }
        }
        let connected: Int32 = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = in_port_t(UInt16(port).bigEndian)
                address.sin_addr = in_addr(s_addr: UInt32(0x7f00_0001).bigEndian)
                let result = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                continuation.resume(returning: result == 0 ? 0 : errno)
            }
        }
        guard connected == 0 else {
            close(fd)
            throw RuntimeError.failed("connect to port \(port): \(String(cString: strerror(connected)))")
        }
        return fd
    }

    /// A TCP socket made inside the namespace `target`; the calling thread returns to its own
    /// namespace before this returns (or the process stops: a thread must never stay inside).
    private static func socketInNamespace(_ target: Int32) throws -> Int32 {
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard home >= 0 else { throw RuntimeError.failed("cannot open this thread's namespace") }
        defer { close(home) }
        guard systemSetns(target, cloneNewNet) == 0 else { throw RuntimeError.failed("setns: \(errno)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let made = errno
        guard systemSetns(home, cloneNewNet) == 0 else {
            fatalError("a thread could not leave a server's network namespace (\(errno))")
        }
        guard fd >= 0 else { throw RuntimeError.failed("socket: \(made)") }
        return fd
    }
}

/// setns(2), which Glibc's module declares only under _GNU_SOURCE.
@_silgen_name("setns")
private func systemSetns(_ fd: Int32, _ type: Int32) -> Int32

/// CLONE_NEWNET (linux/sched.h), likewise hidden.
private let cloneNewNet: Int32 = 0x4000_0000
