import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// Outbound access for servers created with `network: egress`, through Debian's `slirp4netns`:
/// a user-mode TCP/IP stack that owns a tap device in the server's network namespace and opens
/// the server's connections from the host's stack. Its host loopback mapping (10.0.2.2) is off,
/// and, because its connections start on the host, an nftables table in the server's namespace
/// rejects every destination that is the host: loopback, the gateway, link-local, each address
/// of a host interface, and all of IPv6 (slirp4netns runs without it). The server's root has no
/// CAP_NET_ADMIN, so it can neither change the table nor the interface.
///
/// slirp4netns runs in its own session (setsid), not as a child that dies with the control
/// plane: servers keep their network across a restart. Its pid is recorded in the server's
/// directory, and its environment carries a tag naming this runtime and the server, so that
/// stop, destroy and orphan removal find it even when that record is lost.
enum EgressNetwork {
    static let slirp4netns = "/usr/bin/slirp4netns"
    static let nft = "/usr/sbin/nft"
    /// slirp4netns's defaults (10.0.2.0/24): the gateway (the host) and its DNS forwarder.
    static let gateway = "10.0.2.2"
    static let dns = "10.0.2.3"
    static let tap = "tap0"
    /// What an egress server finds in /etc/resolv.conf: slirp4netns's DNS forwarder.
    static let resolvConf = "nameserver \(dns)\n"
    static let tagVariable = "S4A_EGRESS"

    /// The nftables script installed in a server's namespace; atomic and idempotent (the
    /// table is created, deleted and rebuilt in one transaction).
    static func ruleset(hostAddresses: [String]) -> String {
        let blocked = ["0.0.0.0/8", "10.0.2.0/24", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255"]
            + hostAddresses
        return """
            table inet s4a_egress {}
            delete table inet s4a_egress
            table inet s4a_egress {
              set host4 {
                type ipv4_addr; flags interval; auto-merge;
                elements = { \(blocked.joined(separator: ", ")) }
              }
              chain output {
                type filter hook output priority filter; policy accept;
                oifname "lo" accept
                ip daddr \(dns) udp dport 53 accept
                ip daddr \(dns) tcp dport 53 accept
                ip daddr @host4 reject with icmp type admin-prohibited
                meta nfproto ipv6 reject with icmpv6 type admin-prohibited
              }
            }

            """
    }

    /// Every IPv4 address of every host interface (loopback included), as the host sees them now.
    static func hostAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var result: Set<String> = []
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                var inAddress = pointer.pointee.sin_addr
                _ = inet_ntop(AF_INET, &inAddress, &buffer, socklen_t(buffer.count))
            }
            result.insert(String(cString: buffer))
        }
        return result.sorted()
    }

    /// The live slirp4netns processes carrying a tag of this runtime: pid → server id.
    static func processes(instance: String) -> [pid_t: String] {
        let prefix = "\(tagVariable)=\(instance)/"
        var found: [pid_t: String] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                  !environ.isEmpty else { continue }
            for variable in environ.split(separator: 0) {
                let text = String(decoding: variable, as: UTF8.self)
                if text.hasPrefix(prefix) { found[pid] = String(text.dropFirst(prefix.count)) }
            }
        }
        return found
    }
}

extension RuntimeLayout {
    /// Names this runtime (and so its directory) among others on the host.
    var instance: String { Self.fingerprint(root.standardizedFileURL.path) }
    func egressPIDFile(_ id: String) -> String { serverDirectory(id).appendingPathComponent("egress.pid").path }
    func egressLog(_ id: String) -> String { serverDirectory(id).appendingPathComponent("egress.log").path }
}

extension RuncRuntime {
    /// For an egress server whose disk `prepare` has just made: DNS through slirp4netns.
    /// The disk is new (the server never ran), and whatever the template put there is
    /// replaced, never followed: a link must not lead a host root's write out of the disk.
    func seedEgressDisk(_ spec: ContainerSpec) throws {
        guard spec.network == .egress else { return }
        let path = layout.diskMount(spec.id) + "/upper/etc/resolv.conf"
        try? FileManager.default.removeItem(atPath: path)
        guard FileManager.default.createFile(atPath: path, contents: Data(EgressNetwork.resolvConf.utf8),
                                             attributes: [.posixPermissions: 0o644]),
              lchown(path, uid_t(spec.hostUIDBase), gid_t(spec.hostUIDBase)) == 0 else {
            throw RuntimeError.failed("cannot write the server's resolv.conf")
        }
    }

    /// Called once `runc run` has started an egress server: the firewall first, then the
    /// network. On failure the server is stopped: it never runs half-isolated.
    func startEgress(_ spec: ContainerSpec) async throws {
        guard spec.network == .egress else { return }
        do {
            for tool in [EgressNetwork.slirp4netns, EgressNetwork.nft] where !FileManager.default.isExecutableFile(atPath: tool) {
                throw RuntimeError.missing("\(tool) is not installed (apt-get install slirp4netns nftables)")
            }
            try await connectEgress(spec.id)
        } catch {
            try? await stop(spec.id)
            throw error
        }
    }

    /// Installs (or refreshes) the firewall in the server's namespace and starts slirp4netns.
    private func connectEgress(_ id: String) async throws {
        let pidText = try String(contentsOfFile: layout.bundle(id) + "/init.pid", encoding: .utf8)
        guard let initPID = pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)), initPID > 1 else {
            throw RuntimeError.failed("the server has no init pid")
        }
        let netns = "/proc/\(initPID)/ns/net"
        try await ChildProcess.check(["nsenter", "--net=" + netns, EgressNetwork.nft, "-f", "-"],
                                     stdin: Array(EgressNetwork.ruleset(hostAddresses: EgressNetwork.hostAddresses()).utf8))
        let pidFile = layout.egressPIDFile(id), log = layout.egressLog(id)
        try? FileManager.default.removeItem(atPath: pidFile)
        try? FileManager.default.removeItem(atPath: log)
        // env → setsid --fork → sh → slirp4netns: one pid from sh on, in a session of its own,
        // reparented away from the control plane at once; the tag is in its environment from birth.
        let output = try await ChildProcess.run(
            ["env", "\(EgressNetwork.tagVariable)=\(layout.instance)/\(id)", "setsid", "--fork",
             "/bin/sh", "-c", #"echo $$ > "$0.new" && mv "$0.new" "$0" && exec "$@""#, pidFile,
             EgressNetwork.slirp4netns, "--configure", "--mtu=65520", "--disable-host-loopback",
             "--enable-sandbox", "--enable-seccomp", "--netns-type=path", netns, EgressNetwork.tap],
            logFile: log)
        guard output.exitCode == 0 else { throw RuntimeError.failed("cannot start slirp4netns (exit \(output.exitCode))") }
        // Ready when the default route through the tap device exists in the server's namespace.
        let clock = ContinuousClock(), deadline = clock.now + .seconds(10)
        while clock.now < deadline {
            if let routes = try? String(contentsOfFile: "/proc/\(initPID)/net/route", encoding: .utf8),
               routes.split(separator: "\n").contains(where: { $0.hasPrefix(EgressNetwork.tap + "\t00000000\t") }) {
                return
            }
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)),
               Glibc.kill(pid, 0) != 0 || Self.isZombie(pid) {
                break  // it started and died
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        let reason = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        throw RuntimeError.failed("slirp4netns did not come up: \(reason.suffix(300).trimmingCharacters(in: .whitespacesAndNewlines))")
    }

    /// Ends the server's slirp4netns (however it was lost track of) and forgets its pid.
    func stopEgress(_ id: String) async {
        await endEgress(EgressNetwork.processes(instance: layout.instance).filter { $0.value == id }.map(\.key))
        try? FileManager.default.removeItem(atPath: layout.egressPIDFile(id))
    }

    private func endEgress(_ pids: [pid_t]) async {
        for pid in pids { Glibc.kill(pid, SIGKILL) }
        // Gone (or a zombie awaiting its parent) before this returns.
        for _ in 0..<200 where pids.contains(where: { Glibc.kill($0, 0) == 0 && !Self.isZombie($0) }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    static func isZombie(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// At reconcile (orphan removal): ends every slirp4netns of a server that is not kept and
    /// running (returned, as removed), and reconnects a kept, running egress server whose
    /// slirp4netns is gone (killed by hand or by the OOM killer while the control plane was
    /// down), refreshing its firewall with the host's addresses of now.
    func reconcileEgress(keeping keep: Set<String>) async -> [String] {
        var result: [String] = []
        let processes = EgressNetwork.processes(instance: layout.instance)
        let candidates = keep.filter { id in
            RuntimeLayout.isValidID(id) && (processes.values.contains(id) || FileManager.default.fileExists(atPath: layout.egressPIDFile(id)))
        }
        var running: Set<String> = []
        for id in candidates where (try? await status(id)) == .running { running.insert(id) }
        let stray = processes.filter { !running.contains($0.value) }
        await endEgress(Array(stray.keys))
        result += Set(stray.values).sorted().map { "egress \($0)" }
        for id in running.sorted() where !processes.values.contains(id) {
            do {
                try await connectEgress(id)
                logger.info("reconnected the network of \(id)")
            } catch {
                logger.error("cannot reconnect the network of \(id): \(error)")
            }
        }
        return result
    }
}
