import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// Health probes of a server's app, from the host, through the server's own loopback: a TCP
/// connect, or an HTTP GET of a path whose answer must be 2xx or 3xx.
extension RuncRuntime {
    public func probe(_ id: String, port: Int, path: String?, timeout: Duration) async -> ProbeOutcome {
        let started = ContinuousClock.now
        func outcome(_ healthy: Bool, _ detail: String) -> ProbeOutcome {
            let elapsed = ContinuousClock.now - started
            let milliseconds = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
            return ProbeOutcome(healthy: healthy, milliseconds: milliseconds, detail: detail)
        }
        let fd: Int32
        do {
            fd = try await connect(id, port: port)
        } catch {
            return outcome(false, "connect: \(error)")
        }
        guard let path else {
            close(fd)
            return outcome(true, "connected")
        }
        let status: Result<Int, RuntimeError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: Self.httpStatus(fd, path: path, timeout: timeout)) }
        }
        close(fd)
        switch status {
        case .success(let code): return outcome((200..<400).contains(code), "HTTP \(code)")
        case .failure(let error): return outcome(false, "\(error)")
        }
    }

    /// Sends `GET path` and reads the status line; blocking, bounded by socket timeouts.
    private static func httpStatus(_ fd: Int32, path: String, timeout: Duration) -> Result<Int, RuntimeError> {
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: s4a-health\r\nConnection: close\r\n\r\n".utf8)
        guard ChildProcess.writeAll(request, to: fd) else { return .failure(.failed("send: \(String(cString: strerror(errno)))")) }
        var buffer = [UInt8](repeating: 0, count: 512)
        var received: [UInt8] = []
        while !received.contains(UInt8(ascii: "\n")), received.count < 4096 {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            received += buffer[..<count]
        }
        let line = String(decoding: received.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let code = Int(parts[1]) else {
            return .failure(.failed(received.isEmpty ? "no answer" : "not HTTP: \(line.prefix(60))"))
        }
        return .success(code)
    }
}
