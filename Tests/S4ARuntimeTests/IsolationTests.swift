import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Attacks from inside server A, with server B running beside it.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct IsolationTests {
    @Test func aServerCannotReachItsNeighbourOrTheHost() async throws {
        try await RuntimeFixture.run { fixture in
            let host = try HostListener()
            defer { host.close() }
            try await fixture.withServer { a in
                try await fixture.withServer { b in
                    // B: a secret file, a listening port, a long-running process.
                    let secret = "s3cr3t-\(UUID().uuidString)"
                    #expect(try await fixture.sh(b.id, "echo \(secret) > /root/secret; nohup python3 -m http.server 8080 >/dev/null 2>&1 & sleep 0.5").exitCode == 0)
                    #expect(try await fixture.sh(b.id, "python3 -c \"import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:8080/').status)\"").out == "200\n")

                    // A sees only its own processes (tini, the shell, ps).
                    let ps = try await fixture.sh(a.id, "ps -eo pid,args")
                    #expect(!ps.out.contains("http.server"))
                    #expect(!ps.out.contains("sleep infinity") || ps.out.components(separatedBy: "\n").count <= 6)
                    // A cannot find B's files by any path.
                    let search = try await fixture.sh(a.id, "grep -rs \(secret) / --exclude-dir=proc --exclude-dir=sys --exclude-dir=usr 2>/dev/null; cat /proc/*/root/root/secret 2>&1; ls /proc/1/root/")
                    #expect(!search.out.contains(secret))
                    // A cannot reach B's port, nor the host's listener on 127.0.0.1 or any host address.
                    for (address, port) in [("127.0.0.1", 8080), ("127.0.0.1", Int(host.port))] + HostListener.addresses().map({ ($0, Int(host.port)) }) {
                        let probe = try await fixture.sh(a.id, "python3 -c \"import socket;s=socket.socket();s.settimeout(2);s.connect(('\(address)',\(port)));print('connected')\" 2>&1")
                        #expect(!probe.out.contains("connected"), "reached \(address):\(port)")
                    }
                    let routes = try await fixture.sh(a.id, "cat /proc/net/route | wc -l; ls /sys/class/net")
                    #expect(routes.out == "1\nlo\n", "only loopback, no routes: \(routes.out)")
                }
            }
        }
    }

    @Test func hostSecretsPrivilegesAndEscapesAreOutOfReach() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                #expect(try await fixture.sh(spec.id, "cat /etc/shadow").exitCode != 0)
                #expect(try await fixture.sh(spec.id, "ls /root/.ssh /etc/ssh 2>/dev/null").out.isEmpty)
                let map = try await fixture.sh(spec.id, "cat /proc/self/uid_map").out.split(whereSeparator: \.isWhitespace)
                #expect(map.count == 3)
                #expect(map[0] == "0")
                #expect(Int(map[1]) == fixture.runtime.recordedUIDBase(spec.id))
                #expect((Int(map[1]) ?? 0) >= ServerLimits.uidRangeStart, "container root is no host user")
                for attack in ["mount -t tmpfs none /mnt", "unshare -U -r true", "unshare -n true", "umount /usr",
                               "mount -o remount,rw /usr", "touch /usr/bin/evil", "python3 -c 'import ctypes;l=ctypes.CDLL(None);exit(0 if l.ptrace(16,1,0,0)==0 else 1)'",
                               "head -c 1 /proc/kcore | grep -q .", "echo 1 > /proc/sys/kernel/sysrq", "mknod /tmp/sda b 8 0",
                               "chroot / true && nsenter -t 1 -m true"] {
                    let result = try await fixture.sh(spec.id, attack + " 2>/dev/null")
                    #expect(result.exitCode != 0, "\(attack) succeeded")
                }
                let status = try await fixture.sh(spec.id, "grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status")
                #expect(status.out.contains("NoNewPrivs:\t1"))
                #expect(status.out.contains("Seccomp:\t2"))
                #expect(!status.out.contains("CapEff:\t000001ffffffffff"))
                // The server's own root and directories are writable; the host's /usr is not.
                #expect(try await fixture.sh(spec.id, "mkdir /srv/www && echo ok > /root/f && mkdir /newdir && echo 1.2.3.4 x >> /etc/hosts").exitCode == 0)
            }
        }
    }

    @Test func bombsHurtOnlyTheirOwnServer() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer(fixture.spec(memoryMB: 128, diskMB: 64, pids: 64)) { a in
                try await fixture.withServer { b in
                    // Fork bomb: hits A's pids limit; B still answers.
                    let fork = try await fixture.sh(a.id, "bomb() { bomb | bomb & }; bomb; sleep 3; echo survived", timeout: .seconds(10))
                    _ = fork
                    #expect(try await fixture.sh(b.id, "echo alive").out == "alive\n")
                    let pids = try String(contentsOfFile: "/sys/fs/cgroup/pids/s4a/\(a.id)/pids.max", encoding: .utf8)
                    #expect(pids.trimmingCharacters(in: .whitespacesAndNewlines) == "64")
                    try await fixture.runtime.stop(a.id)
                    try await fixture.runtime.start(a)

                    // Memory bomb: OOM-killed inside A.
                    let memory = try await fixture.sh(a.id, "python3 -c 'x=[]\nwhile True: x.append(bytearray(10**7))'", timeout: .seconds(30))
                    #expect(memory.exitCode == 137, "killed by SIGKILL (OOM): \(memory.exitCode) \(memory.err)")
                    #expect(try await fixture.sh(b.id, "echo alive").out == "alive\n")
                    #expect(try await fixture.sh(a.id, "echo recovered").out == "recovered\n")

                    // Disk fill: ENOSPC at disk_mb; the host's disk is untouched.
                    let hostFreeBefore = try FileManager.default.attributesOfFileSystem(forPath: fixture.directory.path)[.systemFreeSize] as? Int64 ?? 0
                    let fill = try await fixture.sh(a.id, "dd if=/dev/zero of=/root/fill bs=1M count=200 2>&1; df -m / | tail -1", timeout: .seconds(60))
                    #expect(fill.out.contains("No space left on device"))
                    let used = try await fixture.sh(a.id, "du -sm /root/fill | cut -f1")
                    #expect((Int(used.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 999) <= 64)
                    let hostFreeAfter = try FileManager.default.attributesOfFileSystem(forPath: fixture.directory.path)[.systemFreeSize] as? Int64 ?? 0
                    #expect(hostFreeBefore - hostFreeAfter < 100 << 20, "the host lost at most the image's 64 MB")
                    #expect(try await fixture.sh(b.id, "echo ok > /root/still-writable && echo yes").out == "yes\n")
                }
            }
        }
    }
}

/// A TCP listener on the host, to prove servers cannot reach it.
final class HostListener {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = in_addr_t(0)  // every host address
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        listen(fd, 16)
        var bound = sockaddr_in()
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        port = UInt16(bigEndian: bound.sin_port)
    }

    func close() { Glibc.close(fd) }

    /// The host's IPv4 addresses other than loopback.
    static func addresses() -> [String] {
        guard let text = try? String(contentsOfFile: "/proc/net/fib_trie", encoding: .utf8) else { return [] }
        var result: Set<String> = []
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for (index, line) in lines.enumerated() where line.hasPrefix("/32 host LOCAL") && index > 0 {
            let address = lines[index - 1].replacingOccurrences(of: "|-- ", with: "")
            if !address.hasPrefix("127.") { result.insert(address) }
        }
        return result.sorted()
    }
}
