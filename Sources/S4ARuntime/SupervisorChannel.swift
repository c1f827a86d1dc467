import CS4ASys
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What the runtime asks of a server's supervisor.
enum SupervisorCommand: Codable {
    /// Start a process (its environment may hold secrets: it travels only over the socket).
    case start(SupervisorSpec.Request)
    /// End a process for good: it and everything it started go, and it is not restarted.
    case end(name: String)
}

struct SupervisorReply: Codable, Equatable {
    enum Outcome: String, Codable {
        case started, ended, tooMany, exists, failed
        /// The supervisor is on its way out (idle or its server stopped): ask a new one.
        case closing
    }
    var outcome: Outcome
    var detail: String?
    var limit: Int?
}

/// The supervisor's socket: a Unix socket in the abstract namespace of the host's network
/// namespace (servers have their own, so none can reach it), one request and one reply per
/// connection, newline-ended JSON. Only the host's root (the control plane) is answered.
/// Binding the name is also the supervisor's lock: a second one for the server cannot.
enum SupervisorChannel {
    static let maxMessageBytes = 4 << 20

    /// The abstract name of server `id`'s supervisor under runc root `runcRoot`.
    static func name(runcRoot: String, id: String) -> String {
        "s4a-supervise-" + RuntimeLayout.fingerprint(runcRoot) + "-" + id
    }

    /// Listens on `name`; nil when another process holds it.
    static func listen(_ name: String) -> Int32? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        let bound = withAddress(name) { bind(fd, $0, $1) }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Serves connections on `fd` one at a time (so requests never race each other) until
    /// `fd` is closed; `handle` runs on this thread.
    static func serve(_ fd: Int32, handle: (SupervisorCommand) -> SupervisorReply) {
        while true {
            let connection = s4a_accept_cloexec(fd)
            if connection < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            defer { close(connection) }
            guard peerIsRoot(connection) else { continue }
            setTimeout(connection, seconds: 5)
            guard let line = readLine(connection),
                  let command = try? JSONDecoder().decode(SupervisorCommand.self, from: Data(line)) else { continue }
            let reply = handle(command)
            guard var data = try? JSONEncoder().encode(reply) else { continue }
            data.append(UInt8(ascii: "\n"))
            _ = ChildProcess.writeAll([UInt8](data), to: connection)
        }
    }

    /// Sends `command` to the supervisor at `name`; nil when none listens there.
    static func send(_ command: SupervisorCommand, to name: String, timeout seconds: Int = 120) async throws -> SupervisorReply? {
        var data = try JSONEncoder().encode(command)
        data.append(UInt8(ascii: "\n"))
        let request = [UInt8](data)
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: exchange(request, with: name, timeout: seconds))
            }
        }
    }

    private static func exchange(_ request: [UInt8], with name: String, timeout: Int) -> SupervisorReply? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard withAddress(name, { connect(fd, $0, $1) }) == 0 else { return nil }
        setTimeout(fd, seconds: timeout)
        guard ChildProcess.writeAll(request, to: fd), let line = readLine(fd) else { return nil }
        return try? JSONDecoder().decode(SupervisorReply.self, from: Data(line))
    }

    /// Bytes up to the first newline (bounded); nil on EOF, timeout or overflow first.
    private static func readLine(_ fd: Int32) -> [UInt8]? {
        var line: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while line.count <= maxMessageBytes {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return nil }
            if let newline = buffer[..<count].firstIndex(of: UInt8(ascii: "\n")) {
                return line + buffer[..<newline]
            }
            line += buffer[..<count]
        }
        return nil
    }

    private static func setTimeout(_ fd: Int32, seconds: Int) {
        var time = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
    }

    /// SO_PEERCRED's uid is root (or this process's own user).
    private static func peerIsRoot(_ fd: Int32) -> Bool {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }: Glibc shows it only under _GNU_SOURCE.
        var credentials = [UInt32](repeating: UInt32.max, count: 3)
        var length = socklen_t(12)
        let got = credentials.withUnsafeMutableBytes { getsockopt(fd, SOL_SOCKET, 17 /* SO_PEERCRED */, $0.baseAddress, &length) }
        return got == 0 && (credentials[1] == 0 || credentials[1] == geteuid())
    }

    private static func withAddress<T>(_ name: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8.prefix(MemoryLayout.size(ofValue: address.sun_path) - 1))
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            path[0] = 0  // the abstract namespace: no file, gone with its process
            for (index, byte) in bytes.enumerated() { path[index + 1] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
