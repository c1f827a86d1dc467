import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `network: egress` against a network namespace standing in for the internet, with listeners
/// on the host that no server may reach.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct EgressTests {
    @Test func anEgressServerReachesTheInternetAndNothingOfTheHost() async throws {
        try await InternetStandIn.with { internet in
            try await RuntimeFixture.run { fixture in
                let host = try await HostResponders.start()
                defer { host.stop() }
                try await fixture.withServer(fixture.egressSpec()) { a in
                    try await fixture.withServer(fixture.egressSpec()) { b in
                        // B serves a secret on its port 8080, and reaches it itself.
                        let secret = "b-\(UUID().uuidString)"
                        #expect(try await fixture.sh(b.id, "mkdir -p /srv/b && echo \(secret) > /srv/b/index.html && cd /srv/b && (nohup python3 -m http.server 8080 >/dev/null 2>&1 &) ; sleep 0.7").exitCode == 0)
                        #expect(try await fixture.fetch(b.id, "http://127.0.0.1:8080/").contains(secret))

                        let fetched = try await fixture.fetch(a.id, internet.url)
                        #expect(fetched == internet.token, "\(fetched)")
                        #expect(try await fixture.fetch(b.id, internet.url) == internet.token)

                        var forbidden = ["127.0.0.1", EgressNetwork.gateway, internet.hostAddress]
                            .map { "http://\($0):\(host.port)/" }
                        forbidden += HostListener.addresses().map { "http://\($0):\(host.port)/" }
                        forbidden += HostResponders.globalIPv6Addresses().map { "http://[\($0)]:\(host.port6)/" }
                        forbidden += ["http://10.0.2.100:8080/", "http://127.0.0.1:8080/", "http://[::1]:\(host.port6)/"]
                        for url in forbidden {
                            let answer = try await fixture.fetch(a.id, url)
                            #expect(answer.hasPrefix("error"), "\(url) answered \(answer)")
                            #expect(!answer.contains(host.token) && !answer.contains(secret), "\(url) leaked")
                        }
                        // The host itself reaches every one of them: the refusals above are the server's.
                        for url in forbidden.filter({ !$0.contains("10.0.2.") && !$0.contains(":8080/") }) {
                            #expect(try await HostResponders.fetchFromHost(url) == host.token, "\(url) from the host")
                        }
                    }
                }
            }
        }
    }

    /// What egress is charged by: the bytes the server sent out, counted in its namespace (and
    /// nothing for a server that only talks to itself).
    @Test func statsCountTheBytesAServerSendsOut() async throws {
        try await InternetStandIn.with { internet in
            try await RuntimeFixture.run { fixture in
                try await fixture.withServer(fixture.egressSpec()) { spec in
                    let before = try #require(try await fixture.runtime.stats(spec.id))
                    let send = """
                        import socket
                        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                        import time
                        for i in range(2000):
                            s.sendto(b"x" * 1000, ("\(internet.address)", 9))
                            if i % 20 == 0: time.sleep(0.002)  # paced: a full tap queue drops packets
                        """
                    #expect(try await fixture.sh(spec.id, "python3 -c '\(send)'").exitCode == 0)
                    #expect(try await fixture.sh(spec.id, "head -c 4000000 /dev/zero > /dev/null; echo local").out == "local\n")
                    let after = try #require(try await fixture.runtime.stats(spec.id))
                    let sent = after.networkSentBytes - before.networkSentBytes
                    // UDP the tap's queue had no room for is dropped before it is counted.
                    #expect(sent >= 500_000 && sent < 2_400_000, "\(sent) bytes counted: \(before) → \(after)")
                    #expect(after.cpuNanoseconds > before.cpuNanoseconds)
                    #expect(after.memoryBytes > 0 && after.pids >= 1 && after.diskBytes > 0)
                }
                try await fixture.withServer { spec in
                    let local = "python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b\"x\", (\"127.0.0.1\", 9))'"
                    let sent = try await fixture.sh(spec.id, local)
                    #expect(sent.exitCode == 0)
                    let stats = try await fixture.runtime.stats(spec.id)
                    #expect(stats?.networkSentBytes == 0)
                }
                let absent = try await fixture.runtime.stats("srv_notrunning000000000")
                #expect(absent == nil)
            }
        }
    }

    @Test func aServerWithoutNetworkHasOnlyLoopback() async throws {
        try await InternetStandIn.with { internet in
            try await RuntimeFixture.run { fixture in
                try await fixture.withServer { spec in
                    #expect(spec.network == .none)
                    let answer = try await fixture.fetch(spec.id, internet.url)
                    #expect(answer.hasPrefix("error") && answer.contains("unreachable"), "\(answer)")
                    #expect(try await fixture.sh(spec.id, "ls /sys/class/net").out == "lo\n")
                    #expect(try await fixture.sh(spec.id, "cat /etc/resolv.conf").out.isEmpty)
                    #expect(EgressProcesses.live(of: spec.id).isEmpty)
                }
            }
        }
    }

    @Test func theServerCannotChangeItsFirewallOrInterfaces() async throws {
        try await InternetStandIn.with { internet in
            try await RuntimeFixture.run { fixture in
                let host = try await HostResponders.start()
                defer { host.stop() }
                try await fixture.withServer(fixture.egressSpec()) { spec in
                    // The tools are there (the host's /usr): a failure below is a refusal, not a missing program.
                    #expect(try await fixture.sh(spec.id, "command -v nft && command -v ip").exitCode == 0)
                    for attack in ["nft flush ruleset", "nft delete table inet s4a_egress", "ip link set tap0 down",
                                   "ip addr add 10.0.2.50/24 dev tap0", "ip route del default", "ip link add d0 type dummy",
                                   "ip -6 addr add fd99::1/64 dev tap0", "echo 1 > /proc/sys/net/ipv4/ip_forward",
                                   "unshare -n true"] {
                        let result = try await fixture.sh(spec.id, attack)
                        #expect(result.exitCode != 0, "\(attack) succeeded: \(result.out)")
                        #expect(result.exitCode != 127, "\(attack): not found")
                    }
                    // Unchanged, as the host sees it, and still enforced.
                    let pid = try String(contentsOfFile: fixture.directory.path + "/servers/\(spec.id)/bundle/init.pid", encoding: .utf8)
                    let table = try await ChildProcess.check(["nsenter", "--net=/proc/\(pid)/ns/net", "nft", "list", "table", "inet", "s4a_egress"]).stdoutText
                    #expect(table.contains(internet.hostAddress) && table.contains("127.0.0.0/8") && table.contains("10.0.2.0/24"))
                    #expect(try await fixture.sh(spec.id, "ip -4 route").out.contains("default via 10.0.2.2 dev tap0"))
                    #expect(try await fixture.fetch(spec.id, internet.url) == internet.token)
                    #expect(try await fixture.fetch(spec.id, "http://\(internet.hostAddress):\(host.port)/").hasPrefix("error"))
                }
            }
        }
    }

    @Test func theNetworkProcessOutlivesTheControlPlaneAndNotItsServer() async throws {
        try await InternetStandIn.with { internet in
            try await RuntimeFixture.run { fixture in
                let spec = fixture.egressSpec()
                try await fixture.runtime.prepare(spec)
                try await fixture.runtime.start(spec)
                let first = try await EgressProcesses.settled(of: spec.id)
                try #require(first.count == 1)
                let pid = first[0]
                let recorded = try String(contentsOfFile: fixture.directory.path + "/servers/\(spec.id)/egress.pid", encoding: .utf8)
                #expect(recorded.trimmingCharacters(in: .whitespacesAndNewlines) == String(pid))
                // Not a child of this process (the control plane), and in a session of its own.
                let stat = EgressProcesses.stat(pid)
                #expect(stat.ppid != getpid())
                #expect(stat.sid == pid)

                // A restarted control plane (a new runtime over the same directory) keeps it.
                let restarted = try RuncRuntime(directory: fixture.directory)
                let removed = try await restarted.removeOrphans(keeping: [spec.id])
                #expect(removed.isEmpty, "\(removed)")
                #expect(EgressProcesses.live(of: spec.id) == [pid])
                #expect(try await fixture.fetch(spec.id, internet.url) == internet.token)

                // Killed while the control plane was away: the next reconcile reconnects the server.
                Glibc.kill(pid, SIGKILL)
                try await Task.sleep(for: .milliseconds(100))
                #expect(try await fixture.fetch(spec.id, internet.url).hasPrefix("error"))
                _ = try await restarted.removeOrphans(keeping: [spec.id])
                let second = try await EgressProcesses.settled(of: spec.id)
                #expect(second.count == 1 && second != [pid])
                #expect(try await fixture.fetch(spec.id, internet.url) == internet.token)

                // stop ends it; start brings a new one; destroy ends that.
                try await restarted.stop(spec.id)
                #expect(EgressProcesses.live(of: spec.id).isEmpty)
                #expect(!FileManager.default.fileExists(atPath: fixture.directory.path + "/servers/\(spec.id)/egress.pid"))
                try await fixture.runtime.start(spec)
                #expect(try await EgressProcesses.settled(of: spec.id).count == 1)
                #expect(try await fixture.fetch(spec.id, internet.url) == internet.token)
                try await fixture.runtime.destroy(spec.id)
                #expect(EgressProcesses.live(of: spec.id).isEmpty)

                // Orphan removal ends the network of a server that is not kept.
                let other = fixture.egressSpec()
                try await fixture.runtime.prepare(other)
                try await fixture.runtime.start(other)
                #expect(try await EgressProcesses.settled(of: other.id).count == 1)
                let swept = try await fixture.runtime.removeOrphans(keeping: [])
                #expect(swept.contains("container \(other.id)"))
                #expect(EgressProcesses.live(of: other.id).isEmpty)
                #expect(try await fixture.runtime.list().isEmpty)
            }
        }
    }

    /// An egress server whose slirp4netns is gone while the container still runs is not left
    /// stranded by a stop of the container alone.
    @Test func orphanRemovalEndsTheNetworkOfAContainerThatDied() async throws {
        try await RuntimeFixture.run { fixture in
            let spec = fixture.egressSpec()
            try await fixture.runtime.prepare(spec)
            try await fixture.runtime.start(spec)
            #expect(EgressProcesses.live(of: spec.id).count == 1)
            // The container dies behind the runtime's back (runc kills it; the record stays).
            try await fixture.runtime.kill(spec.id, signal: SIGKILL)
            try await Task.sleep(for: .milliseconds(300))
            _ = try await fixture.runtime.removeOrphans(keeping: [spec.id])
            #expect(EgressProcesses.live(of: spec.id).isEmpty)
            try await fixture.runtime.destroy(spec.id)
        }
    }
}

extension RuntimeFixture {
    func egressSpec() -> ContainerSpec {
        var spec = spec()
        spec.network = .egress
        return spec
    }

    /// The body of a GET from inside the server, or "error …".
    func fetch(_ id: String, _ url: String) async throws -> String {
        let script = """
            import sys, urllib.request
            try: sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())
            except Exception as e: print("error", e)
            """
        let result = try await runtime.exec(id, ExecRequest(argv: ["python3", "-c", script, url], timeout: .seconds(20)))
        return result.out + result.err
    }
}

/// Live (not zombie) slirp4netns processes whose environment names a server, read from /proc.
enum EgressProcesses {
    /// The live ones once slirp4netns's helper has exited: it forks one into the namespace to make
    /// (and, with --configure, set up) the tap device, and the route start waits for can appear
    /// just before that helper is gone (a CI run once counted two).
    static func settled(of id: String) async throws -> [pid_t] {
        var live = live(of: id)
        for _ in 0..<100 where live.count > 1 {
            try await Task.sleep(for: .milliseconds(50))
            live = self.live(of: id)
        }
        return live
    }

    static func live(of id: String) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(pid_t.init).filter { pid in
            guard (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)) == "slirp4netns\n",
                  let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            return String(decoding: environ, as: UTF8.self).contains(id) && stat(pid).state != "Z"
        }.sorted()
    }

    static func stat(_ pid: pid_t) -> (state: String, ppid: pid_t, sid: pid_t) {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return ("?", 0, 0) }
        // After the name: state ppid pgrp session …
        let fields = text[text.index(after: close)...].split(separator: " ")
        return (String(fields[0]), pid_t(fields[1]) ?? 0, pid_t(fields[3]) ?? 0)
    }
}

/// A network namespace standing in for the internet: a veth pair, 198.18-19.x.1 on the host
/// side, .2 inside, and an HTTP responder there that answers `token`.
final class InternetStandIn: @unchecked Sendable {
    /// A /24 of the benchmarking range 198.18.0.0/15 (never routed), chosen per run, so that
    /// a stand-in left by a crashed run can never answer for this one.
    let subnet = "198.\(Int.random(in: 18...19)).\(Int.random(in: 0...255))"
    var hostAddress: String { subnet + ".1" }
    var address: String { subnet + ".2" }
    let name: String
    let hostLink: String
    let token = "internet-\(UUID().uuidString)"
    var url: String { "http://\(address):8080/" }
    private var responder: Process?

    private init() {
        let suffix = UUID().uuidString.prefix(6).lowercased()
        name = "s4a-inet-\(suffix)"
        hostLink = "s4ai\(suffix)h"
    }

    /// Runs `body` with the stand-in up; afterwards neither the namespace nor the link remains.
    static func with(_ body: (InternetStandIn) async throws -> Void) async throws {
        let internet = InternetStandIn()
        do {
            try await internet.open()
            try await body(internet)
        } catch {
            await internet.close()
            throw error
        }
        await internet.close()
        let namespaces = try await ChildProcess.check(["ip", "netns", "list"]).stdoutText
        #expect(!namespaces.contains(internet.name))
        #expect(!FileManager.default.fileExists(atPath: "/sys/class/net/\(internet.hostLink)"))
    }

    private func open() async throws {
        let inner = hostLink.dropLast() + "n"
        for command in [["ip", "netns", "add", name],
                        ["ip", "link", "add", hostLink, "type", "veth", "peer", "name", String(inner)],
                        ["ip", "link", "set", String(inner), "netns", name],
                        ["ip", "addr", "add", hostAddress + "/24", "dev", hostLink],
                        ["ip", "link", "set", hostLink, "up"],
                        ["ip", "-n", name, "addr", "add", address + "/24", "dev", String(inner)],
                        ["ip", "-n", name, "link", "set", String(inner), "up"],
                        ["ip", "-n", name, "link", "set", "lo", "up"]] {
            try await ChildProcess.check(command)
        }
        responder = try HostResponders.spawn(["ip", "netns", "exec", name, "python3", "-c", HostResponders.script,
                                              token, "4", address, "8080"])
        #expect(try await HostResponders.fetchFromHost(url) == token, "the stand-in answers the host")
    }

    private func close() async {
        if let responder { HostResponders.end(responder, token: token) }
        _ = try? await ChildProcess.run(["ip", "netns", "del", name])
        _ = try? await ChildProcess.run(["ip", "link", "del", hostLink])
    }
}

/// HTTP responders on the host, on every IPv4 address and every IPv6 address, answering `token`.
final class HostResponders: @unchecked Sendable {
    let token = "host-\(UUID().uuidString)"
    let port = Int.random(in: 20_000...39_999)
    let port6 = Int.random(in: 40_000...59_999)
    private var processes: [Process] = []

    static let script = """
        import http.server, socket, sys
        token, family, address, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers(); self.wfile.write(token.encode())
            def log_message(self, *args): pass
        class Server(http.server.HTTPServer):
            address_family = socket.AF_INET6 if family == "6" else socket.AF_INET
        Server((address, port), Handler).serve_forever()
        """

    static func start() async throws -> HostResponders {
        let responders = HostResponders()
        responders.processes = [try spawn(["python3", "-c", script, responders.token, "4", "0.0.0.0", String(responders.port)]),
                                try spawn(["python3", "-c", script, responders.token, "6", "::", String(responders.port6)])]
        #expect(try await fetchFromHost("http://127.0.0.1:\(responders.port)/") == responders.token)
        return responders
    }

    func stop() {
        for process in processes { Self.end(process, token: token) }
    }

    /// SIGKILL (the test process may hand SIGTERM down ignored) to it and to every process
    /// whose arguments hold `token`: `ip netns exec` may fork the responder rather than become it.
    static func end(_ process: Process, token: String) {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: data, as: UTF8.self).contains(token) else { continue }
            Glibc.kill(pid, SIGKILL)
        }
    }

    static func spawn(_ argv: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// GET from the host's own network namespace, retrying while the responder starts.
    static func fetchFromHost(_ url: String) async throws -> String {
        let script = "import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1],timeout=2).read().decode())"
        for _ in 0..<50 {
            let output = try await ChildProcess.run(["python3", "-c", script, url])
            if output.exitCode == 0 { return output.stdoutText }
            try await Task.sleep(for: .milliseconds(100))
        }
        return "unreachable"
    }

    /// The host's global IPv6 addresses (scope 0 in /proc/net/if_inet6).
    static func globalIPv6Addresses() -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/net/if_inet6", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[3] == "00", fields[0].count == 32 else { return nil }
            let hex = Array(fields[0])
            return stride(from: 0, to: 32, by: 4).map { String(hex[$0..<$0 + 4]) }.joined(separator: ":")
        }
    }
}
