import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import S4AACME
import S4ATLS
import Testing
#if canImport(Glibc)
import Glibc
#endif

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A real pebble (Debian's package) on loopback, with pebble-challtestsrv as its DNS server so
/// that its VA resolves every name to 127.0.0.1 and validates HTTP-01 for real against the
/// test's challenge server. Nothing listens beyond 127.0.0.1 and no query leaves the machine.
final class Pebble {
    static let binary = "/usr/bin/pebble"
    static let dnsBinary = "/usr/bin/pebble-challtestsrv"

    let directory: URL
    let directoryURL: URL
    let managementURL: String
    let trustRootsPEM: String
    private let processes: [Process]

    /// Runs `body` with a fresh pebble whose VA reaches `challenges` over HTTP. Without the
    /// binaries the test is skipped (a note is printed) unless `S4A_REQUIRE_PEBBLE=1`, which
    /// makes their absence a failure.
    static func with(challenges: HTTP01Challenges,
                     _ body: (Pebble) async throws -> Void) async throws {
        let fm = FileManager.default
        guard fm.isExecutableFile(atPath: binary), fm.isExecutableFile(atPath: dnsBinary) else {
            if ProcessInfo.processInfo.environment["S4A_REQUIRE_PEBBLE"] == "1" {
                Issue.record("S4A_REQUIRE_PEBBLE=1 but \(binary) or \(dnsBinary) is missing (apt-get install pebble)")
            } else {
                print("note: ACME tests against pebble skipped: \(binary) is not installed (apt-get install pebble)")
            }
            return
        }
        let server = try await ChallengeServer.start(challenges: challenges)
        let pebble: Pebble
        do {
            pebble = try await Pebble(httpPort: server.port)
        } catch {
            await server.stop()
            throw error
        }
        do {
            try await body(pebble)
        } catch {
            await pebble.stop(printingLogs: true)
            await server.stop()
            throw error
        }
        await pebble.stop(printingLogs: false)
        await server.stop()
    }

    private init(httpPort: Int) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-pebble-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // pebble's own TLS listener: a certificate for 127.0.0.1 from a throwaway local CA.
        let ca = LocalCA(directory: directory.appendingPathComponent("tls"))
        let (certificate, key) = try ca.serverCredentials(hostnames: ["127.0.0.1", "localhost"])
        trustRootsPEM = try String(contentsOfFile: ca.caCertificatePath, encoding: .utf8)

        let acmePort = try freePort(), managementPort = try freePort(), dnsPort = try freePort()
        let dnsManagementPort = try freePort()
        let config: [String: Any] = ["pebble": [
            "listenAddress": "127.0.0.1:\(acmePort)",
            "managementListenAddress": "127.0.0.1:\(managementPort)",
            "certificate": certificate, "privateKey": key,
            "httpPort": httpPort, "tlsPort": try freePort(),
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        ]]
        let configPath = directory.appendingPathComponent("pebble.json")
        try JSONSerialization.data(withJSONObject: config).write(to: configPath)
        directoryURL = URL(string: "https://127.0.0.1:\(acmePort)/dir")!
        managementURL = "https://127.0.0.1:\(managementPort)"

        // A mock DNS server answering A queries with 127.0.0.1 (and no AAAA); its challenge
        // listeners are disabled, its management API bound to loopback.
        let dns = try Self.launch(Self.dnsBinary, [
            "-dns01", "127.0.0.1:\(dnsPort)", "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-management", "127.0.0.1:\(dnsManagementPort)", "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
        ], environment: [:], log: directory.appendingPathComponent("dns.log"))
        var started = [dns]
        do {
            try await waitForTCP(port: dnsPort)
            // Real validation: no PEBBLE_VA_ALWAYS_VALID. No random VA sleeps, no rejected nonces.
            let pebble = try Self.launch(Self.binary, ["-config", configPath.path, "-dnsserver", "127.0.0.1:\(dnsPort)"],
                                         environment: ["PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"],
                                         log: directory.appendingPathComponent("pebble.log"))
            started.append(pebble)
            try await waitForTCP(port: acmePort)
            try await waitForTCP(port: managementPort)
        } catch {
            started.forEach { $0.terminate(); $0.waitUntilExit() }
            throw error
        }
        processes = started
    }

    /// pebble's issuing root (generated at each start), from its management interface.
    func issuingRootPEM() async throws -> String {
        try await get(managementURL + "/roots/0")
    }

    func get(_ url: String) async throws -> String {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(trustRootsPEM.utf8)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            guard response.status == .ok else { throw HarnessError("GET \(url): \(response.status)") }
            return String(buffer: body)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    func stop(printingLogs: Bool) async {
        for process in processes.reversed() {
            process.terminate()
            // Not Process.waitUntilExit: under a busy test run Foundation can miss the child's
            // exit and wait forever, holding one of the (two, here) cooperative threads. Reaped
            // here if it did, killed if it will not go.
            let pid = process.processIdentifier
            var status: Int32 = 0
            for _ in 0..<50 where process.isRunning && waitpid(pid, &status, WNOHANG) == 0 {
                try? await Task.sleep(for: .milliseconds(100))
            }
            if process.isRunning, waitpid(pid, &status, WNOHANG) == 0 {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
            }
        }
        if printingLogs {
            for name in ["pebble.log", "dns.log"] {
                let text = (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
                print("--- \(name)\n\(text.suffix(4000))")
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    private static func launch(_ path: String, _ arguments: [String], environment: [String: String],
                               log: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
    defer { close(fd) }
    var address = loopback(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits (up to 15 s) until something accepts TCP connections on 127.0.0.1:`port`.
func waitForTCP(port: Int) async throws {
    for _ in 0..<150 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(fd)
        if connected == 0 { return }
        try await Task.sleep(nanoseconds: 100_000_000)
    }
    throw HarnessError("nothing listens on 127.0.0.1:\(port)")
}

private func loopback(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}
