import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The runtime's connect call: the host reaches a server's port on the server's own loopback,
/// though the server has no address the host could route to.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct ConnectTests {
    /// Sends `request` on `fd` and reads until the peer closes.
    func exchange(_ fd: Int32, _ request: String) -> String {
        var bytes = Array(request.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    @Test func theHostReachesAServersOwnLoopbackPortAndNothingElse() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { a in
                try await fixture.withServer { b in
                    _ = try await fixture.sh(a.id, "mkdir -p /srv/www && echo served-by-a > /srv/www/index.html")
                    try await fixture.runtime.spawn(a.id, ProcessRequest(
                        name: "run_web", argv: ["python3", "-m", "http.server", "8080", "--bind", "127.0.0.1", "--directory", "/srv/www"]))
                    var fd: Int32 = -1
                    for _ in 0..<100 {
                        if let connected = try? await fixture.runtime.connect(a.id, port: 8080) { fd = connected; break }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    #expect(fd >= 0)
                    defer { close(fd) }
                    let answer = exchange(fd, "GET /index.html HTTP/1.0\r\nHost: a\r\n\r\n")
                    #expect(answer.hasPrefix("HTTP/1.0 200"))
                    #expect(answer.contains("served-by-a"))
                    // The same port in another server is another server's (nothing listens there).
                    await #expect(throws: RuntimeError.self) { _ = try await fixture.runtime.connect(b.id, port: 8080) }
                    // The caller's thread never left the host's network namespace.
                    let own = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")
                    #expect(own == (try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")))
                    await #expect(throws: RuntimeError.self) { _ = try await fixture.runtime.connect(a.id, port: 0) }
                }
            }
        }
    }

    @Test func aStoppedServerCannotBeReached() async throws {
        try await RuntimeFixture.run { fixture in
            let spec = fixture.spec()
            try await fixture.runtime.prepare(spec)
            try await fixture.runtime.stop(spec.id)
            await #expect(throws: RuntimeError.notRunning) { _ = try await fixture.runtime.connect(spec.id, port: 8080) }
            try await fixture.runtime.destroy(spec.id)
        }
    }
}
