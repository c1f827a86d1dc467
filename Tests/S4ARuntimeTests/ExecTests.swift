import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing

@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct ExecTests {
    @Test func outputExitCodeStdinCwdAndEnv() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let result = try await fixture.sh(spec.id, "echo out; echo err >&2; exit 7")
                #expect(result.out == "out\n")
                #expect(result.err == "err\n")
                #expect(result.exitCode == 7)
                #expect(try await fixture.sh(spec.id, "tr a-z A-Z", stdin: "hello").out == "HELLO")
                #expect(try await fixture.sh(spec.id, "pwd", cwd: "/srv").out == "/srv\n")
                #expect(try await fixture.sh(spec.id, "echo $GREETING", env: ["GREETING": "hi"]).out == "hi\n")
                #expect(try await fixture.sh(spec.id, "hostname").out == "\(spec.id)\n")
                #expect(try await fixture.sh(spec.id, "python3 -c 'print(6*7)'").out == "42\n")
                #expect(try await fixture.sh(spec.id, "git --version").exitCode == 0)
                // /etc is the server's to change; the CA bundle is there to read.
                #expect(try await fixture.sh(spec.id, "echo app:x:1000:1000::/srv:/bin/sh >> /etc/passwd && id app").exitCode == 0)
                #expect(try await fixture.sh(spec.id, "echo '10.0.0.1 db' >> /etc/hosts && touch /etc/new.conf").exitCode == 0)
                let ca = "import ssl; c = ssl.create_default_context(); print(c.cert_store_stats()['x509_ca'] > 0)"
                #expect(try await fixture.sh(spec.id, "python3 -c \"\(ca)\"").out == "True\n")
                let missing = try await fixture.runtime.exec(spec.id, ExecRequest(argv: ["/no/such/binary"]))
                #expect(missing.exitCode != 0)
            }
        }
    }

    @Test func aTimeoutKillsTheWholeTree() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let started = ContinuousClock.now
                let result = try await fixture.sh(spec.id, "sleep 300 & sleep 301 & (sleep 302; echo late) ; wait", timeout: .seconds(1))
                #expect(result.timedOut)
                #expect(ContinuousClock.now - started < .seconds(15))
                let left = try await fixture.sh(spec.id, "ps -eo args | grep '^sleep 30' || true")
                #expect(left.out.isEmpty, "left behind: \(left.out)")
            }
        }
    }

    @Test func outputPastTheLimitIsCutAndFlagged() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let result = try await fixture.sh(spec.id, "head -c 3000000 /dev/zero; echo done >&2", limit: 1 << 20)
                #expect(result.truncated)
                #expect(result.stdout.count == 1 << 20)
                #expect(result.err == "done\n")
                #expect(result.exitCode == 0)
            }
        }
    }

    @Test func theDiskPersistsAcrossStopAndStart() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                #expect(try await fixture.sh(spec.id, "mkdir -p /srv/www && echo kept > /srv/www/f && echo x > /tmp/gone").exitCode == 0)
                try await fixture.runtime.stop(spec.id)
                #expect(try await fixture.runtime.status(spec.id) == nil)
                try await fixture.runtime.start(spec)
                #expect(try await fixture.sh(spec.id, "cat /srv/www/f").out == "kept\n")
                #expect(try await fixture.sh(spec.id, "test -e /tmp/gone").exitCode != 0, "/tmp is a fresh tmpfs")
            }
        }
    }

    @Test func destroyLeavesNothingBehind() async throws {
        try await RuntimeFixture.run { fixture in
            let spec = fixture.spec()
            try await fixture.withServer(spec) { _ in }
            #expect(try await fixture.runtime.list().isEmpty)
            #expect(fixture.runtime.layout.mounts.isEmpty)
            #expect(await LoopDevices.attached().allSatisfy { !$0.1.hasPrefix(fixture.directory.path) })
            #expect(!FileManager.default.fileExists(atPath: fixture.directory.appendingPathComponent("servers/\(spec.id)").path))
            #expect(!FileManager.default.fileExists(atPath: "/sys/fs/cgroup/pids/s4a/\(spec.id)"))
        }
    }

    @Test func orphansAreRemoved() async throws {
        try await RuntimeFixture.run { fixture in
            let kept = fixture.spec(), orphan = fixture.spec()
            for spec in [kept, orphan] {
                try await fixture.runtime.prepare(spec)
                try await fixture.runtime.start(spec)
            }
            let removed = try await fixture.runtime.removeOrphans(keeping: [kept.id])
            #expect(removed.contains("container \(orphan.id)"))
            #expect(try await fixture.runtime.list() == [kept.id])
            #expect(try await fixture.runtime.status(kept.id) == .running)
            #expect(fixture.runtime.layout.mounts.allSatisfy { $0.contains(kept.id) })
            try await fixture.runtime.destroy(kept.id)
        }
    }
}

/// Opt-in (it downloads Debian): S4A_TEST_DEBIAN_TEMPLATE=1 swift test --filter DebianTemplateTests
@Suite(.enabled(if: runtimeAvailable && ProcessInfo.processInfo.environment["S4A_TEST_DEBIAN_TEMPLATE"] == "1"), .tags(.runc), .needs(.runc))
struct DebianTemplateTests {
    @Test func aDebianServerRunsOnItsOwnUsr() async throws {
        try await RuntimeFixture.run { fixture in
            _ = try await DebianTemplate.build(runtimeDirectory: fixture.directory, suite: "bookworm",
                                               mirror: "http://deb.debian.org/debian") { _ in }
            #expect(try await fixture.runtime.templates().contains("debian"))
            var debian = fixture.spec()
            debian.template = "debian"
            try await fixture.withServer(debian) { (server: ContainerSpec) async throws -> Void in
                let python = try await fixture.sh(server.id, "python3 -c 'print(6*7)'")
                #expect(python.out == "42\n")
                let git = try await fixture.sh(server.id, "git --version")
                #expect(git.exitCode == 0)
                let usr = try await fixture.sh(server.id, "grep -c ' /usr ' /proc/self/mountinfo || true")
                #expect(usr.out == "0\n", "no host /usr")
                let apt = try await fixture.sh(server.id, "apt-get --version")
                #expect(apt.exitCode == 0)
            }
        }
    }
}
