import Foundation
@testable import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The host reads and writes a server's files itself, through the server's root: the server's
/// programs never run for it, links and archives only ever reach the server's own files.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct ServerFilesTests {
    /// Runs `script` with the host's dash (from the read-only /usr), not the server's /bin/sh.
    func dash(_ fixture: RuntimeFixture, _ id: String, _ script: String) async throws -> ExecResult {
        try await fixture.runtime.exec(id, ExecRequest(argv: ["/usr/bin/dash", "-c", script], cwd: "/"))
    }

    final class Collected: @unchecked Sendable { var bytes: [UInt8] = [] }

    func tar(_ fixture: RuntimeFixture, _ spec: ContainerSpec, _ directory: String, prefix: String = "") async throws -> [UInt8] {
        let collected = Collected()
        let writer = TarWriter(mtime: Date()) { collected.bytes += $0 }
        _ = try await fixture.runtime.archive(spec, directory: directory, prefix: prefix).write(to: writer)
        try await writer.finish()
        return collected.bytes
    }

    func entries(_ bytes: [UInt8]) throws -> [String: (TarReader.Entry, [UInt8])] {
        var reader = TarReader(bytes)
        var entries: [String: (TarReader.Entry, [UInt8])] = [:]
        while let entry = try reader.next() { entries[entry.name] = (entry, Array(bytes[entry.data])) }
        return entries
    }

    func read(_ fixture: RuntimeFixture, _ spec: ContainerSpec, _ path: String) async throws -> [UInt8] {
        let file = try await fixture.runtime.openFile(spec, path)
        var bytes: [UInt8] = []
        while true {
            let piece = try file.read(1 << 16)
            if piece.isEmpty { return bytes }
            bytes += piece
        }
    }

    @Test func aServerThatReplacesItsProgramsNeverRunsThemForFileOperations() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let runtime = fixture.runtime
                // Every program the old file code ran (by /bin/sh, by PATH) now logs to a marker
                // and prints a forged archive entry; /bin and /sbin are the server's own.
                let setup = #"""
                    set -e
                    mkdir -p /root/fake /srv/data/sub
                    for p in sh tar find cat rm mkdir ls dirname stat; do
                      printf '#!/usr/bin/dash\necho "$0 $*" >> /root/ran\nprintf "../../account.json"\n' > /root/fake/$p
                      chmod 755 /root/fake/$p
                    done
                    echo hello > /srv/data/a.txt; ln -s a.txt /srv/data/link; echo deep > /srv/data/sub/b
                    rm /bin /sbin; cp -a /root/fake /bin; cp -a /root/fake /sbin
                    """#
                #expect(try await dash(fixture, spec.id, setup).exitCode == 0)

                let every = (0...255).map(UInt8.init)
                try await runtime.writeFile(spec, "/srv/new/dir/file.bin", bytes: every)
                #expect(try await read(fixture, spec, "/srv/new/dir/file.bin") == every)
                // Made by the host, owned by the server's root (not host root, seen as nobody).
                #expect(try await dash(fixture, spec.id, "/usr/bin/stat -c %u:%g /srv/new /srv/new/dir /srv/new/dir/file.bin").out
                        == "0:0\n0:0\n0:0\n")
                let listing = try await runtime.listDirectory(spec, "/srv/data")
                #expect(listing.map(\.name).sorted() == ["a.txt", "link", "sub"])
                let plain = try #require(listing.first { $0.name == "a.txt" })
                #expect(plain.kind == .file && plain.size == 6 && plain.mode == "644")
                #expect(listing.first { $0.name == "link" }?.kind == .symlink)

                let archive = try entries(try await tar(fixture, spec, "/srv/data"))
                #expect(Set(archive.keys) == ["a.txt", "link", "sub", "sub/b"])
                #expect(archive["a.txt"]?.1 == Array("hello\n".utf8))
                #expect(archive["link"]?.0.linkTarget == "a.txt")
                try await runtime.unpack(spec, directory: "/restore", archive: try await tar(fixture, spec, "/srv/data"))
                #expect(try await read(fixture, spec, "/restore/sub/b") == Array("deep\n".utf8))
                #expect(try await dash(fixture, spec.id, "/usr/bin/stat -c %u /restore/sub/b /restore/link").out == "0\n0\n")

                // The whole root, under a prefix: every name under it, no /proc, /sys or /dev.
                let root = try entries(try await tar(fixture, spec, "/", prefix: "files/\(spec.id)/"))
                #expect(root["files/\(spec.id)/srv/data/a.txt"]?.1 == Array("hello\n".utf8))
                #expect(root["files/\(spec.id)/bin/sh"] != nil, "the server's own /bin is archived as files")
                for name in root.keys {
                    #expect(name.hasPrefix("files/\(spec.id)/") || name == "files/\(spec.id)", "\(name)")
                    let inner = name.dropFirst("files/\(spec.id)/".count)
                    #expect(!["proc/", "sys/", "dev/", "usr/"].contains { inner.hasPrefix($0) }, "\(name)")
                }

                try await runtime.remove(spec, "/srv/data")
                #expect(try await runtime.listDirectory(spec, "/srv").map(\.name).sorted() == ["new"])
                await #expect(throws: DomainError.self) {
                    _ = try await runtime.openFile(spec, "/root/ran")
                }
                // The marker works: running the server's own /bin/sh leaves it.
                _ = try await runtime.exec(spec.id, ExecRequest(argv: ["/bin/sh", "-c", "true"], cwd: "/"))
                #expect(String(decoding: try await read(fixture, spec, "/root/ran"), as: UTF8.self).contains("/bin/sh"))
            }
        }
    }

    @Test func linksOnlyEverReachTheServersOwnFiles() async throws {
        try await RuntimeFixture.run { fixture in
            let host = fixture.directory.appendingPathComponent("host-side").path
            try FileManager.default.createDirectory(atPath: host + "/x", withIntermediateDirectories: true)
            try "host".write(toFile: host + "/canary", atomically: true, encoding: .utf8)
            try await fixture.withServer { spec in
                let runtime = fixture.runtime
                let setup = """
                    ln -s \(host)/canary /root/abs; ln -s ../../../../../../../..\(host)/canary /root/up
                    ln -s \(host) /root/hostdir; ln -s / /root/toroot; echo mine > /root/plain
                    """
                #expect(try await dash(fixture, spec.id, setup).exitCode == 0)
                for path in ["/root/abs", "/root/up", "/root/hostdir/canary", "/../../../..\(host)/canary", "/proc/1/root\(host)/canary"] {
                    await #expect(throws: DomainError.self, "\(path)") { _ = try await read(fixture, spec, path) }
                }
                // A link to the server's own root is the server's root.
                #expect(try await read(fixture, spec, "/root/toroot/root/plain") == Array("mine\n".utf8))
                for path in ["/root/abs", "/root/hostdir/x/f", "/root/up"] {
                    _ = try? await runtime.writeFile(spec, path, bytes: Array("pwned".utf8))
                    _ = try? await runtime.remove(spec, path)
                }
                _ = try? await runtime.remove(spec, "/root/hostdir/x")
                _ = try? await runtime.unpack(spec, directory: "/root/hostdir", archive: try await tar(fixture, spec, "/etc"))
                #expect(try String(contentsOfFile: host + "/canary", encoding: .utf8) == "host")
                #expect(try FileManager.default.contentsOfDirectory(atPath: host).sorted() == ["canary", "x"])
                #expect(try FileManager.default.contentsOfDirectory(atPath: host + "/x").isEmpty)

                // A directory swapped for a link to the host (and back) while the host removes and
                // writes through it: only ever the server's files.
                let swap = "while :; do rm -rf /root/swap; mkdir -p /root/swap/x; rm -rf /root/swap; ln -s \(host) /root/swap; done"
                _ = try await dash(fixture, spec.id, "nohup /usr/bin/dash -c '\(swap)' >/dev/null 2>&1 &")
                for round in 0..<200 {
                    _ = try? await runtime.writeFile(spec, "/root/swap/x/f\(round)", bytes: [1])
                    _ = try? await runtime.remove(spec, round % 2 == 0 ? "/root/swap/x" : "/root/swap")
                    _ = try? await runtime.unpack(spec, directory: "/root/swap", archive: try await tar(fixture, spec, "/root/toroot/srv"))
                }
                #expect(try FileManager.default.contentsOfDirectory(atPath: host).sorted() == ["canary", "x"])
                #expect(try FileManager.default.contentsOfDirectory(atPath: host + "/x").isEmpty)
                #expect(try String(contentsOfFile: host + "/canary", encoding: .utf8) == "host")
            }
        }
    }

    func raw(_ name: String, type: Character, body: [UInt8] = [], link: String = "") throws -> [UInt8] {
        try TarWriter.header(name: name, size: body.count, type: type, mode: 0o644, mtime: 0, link: link, uid: 0, gid: 0)
            + body + [UInt8](repeating: 0, count: (512 - body.count % 512) % 512)
    }

    @Test func uploadedArchivesWriteNothingOutsideTheirTarget() async throws {
        try await RuntimeFixture.run { fixture in
            let host = fixture.directory.appendingPathComponent("host-target").path
            try FileManager.default.createDirectory(atPath: host, withIntermediateDirectories: true)
            try await fixture.withServer { spec in
                let runtime = fixture.runtime
                #expect(try await dash(fixture, spec.id, "mkdir -p /root/in; ln -s /etc /root/in/pre; ln -s \(host) /root/in/hostlink").exitCode == 0)
                let end = [UInt8](repeating: 0, count: 1024)
                let attacks: [(String, [UInt8])] = [
                    ("climbing", try raw("ok.txt", type: "0", body: [1]) + raw("../x", type: "0", body: [1])),
                    ("absolute", try raw("ok.txt", type: "0", body: [1]) + raw("/etc/x", type: "0", body: [1])),
                    ("device", try raw("ok.txt", type: "0", body: [1]) + raw("sda", type: "3")),
                    ("hard link", try raw("ok.txt", type: "0", body: [1]) + raw("h", type: "1", link: "/etc/passwd")),
                    ("its own symlink", try raw("ok.txt", type: "0", body: [1]) + raw("l", type: "2", link: "/etc") + raw("l/x", type: "0", body: [1])),
                    ("the server's symlink", try raw("pre/x", type: "0", body: [1])),
                    ("a link to the host", try raw("hostlink/y", type: "0", body: [1])),
                ]
                for (name, archive) in attacks {
                    await #expect(throws: DomainError.self, "\(name)") {
                        try await runtime.unpack(spec, directory: "/root/in", archive: archive + end)
                    }
                }
                let left = try await dash(fixture, spec.id, """
                    for f in /root/in/ok.txt /root/x /x /etc/x /root/in/l /root/in/sda /root/in/h /etc/passwd/x; do
                      if [ -e $f ] || [ -L $f ]; then echo $f; fi
                    done
                    """)
                #expect(left.exitCode == 0 && left.out.isEmpty, "written: \(left.out)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: host).isEmpty)

                // A real tar's archive (GNU format, long names) unpacks as the server's root's files.
                let source = fixture.directory.appendingPathComponent("src").path
                let long = String(repeating: "n", count: 150)
                try FileManager.default.createDirectory(atPath: source + "/d/" + long, withIntermediateDirectories: true)
                try "content".write(toFile: source + "/d/" + long + "/f", atomically: true, encoding: .utf8)
                try FileManager.default.createSymbolicLink(atPath: source + "/d/link", withDestinationPath: long + "/f")
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
                process.arguments = ["--format=gnu", "-C", source, "-cf", source + ".tar", "."]
                try process.run()
                process.waitUntilExit()
                try await runtime.unpack(spec, directory: "/root/out", archive: Array(try Data(contentsOf: URL(fileURLWithPath: source + ".tar"))))
                #expect(try await read(fixture, spec, "/root/out/d/link") == Array("content".utf8))
                #expect(try await dash(fixture, spec.id, "/usr/bin/stat -c %u /root/out/d/\(long)/f").out == "0\n")
            }
        }
    }

    @Test func extremeTimesListAndReadOnlyMountsFailCleanly() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let runtime = fixture.runtime
                let script = "import os\nfor n, t in (('far', 9e18), ('past', -9e18)):\n  open('/tmp/' + n, 'w').close(); os.utime('/tmp/' + n, (t, t))"
                #expect(try await fixture.runtime.exec(spec.id, ExecRequest(argv: ["/usr/bin/python3", "-c", script])).exitCode == 0)
                let listing = try await runtime.listDirectory(spec, "/tmp")
                let far = try #require(listing.first { $0.name == "far" })
                let past = try #require(listing.first { $0.name == "past" })
                #expect(Timestamp.rfc3339(far.modifiedAt) == "9999-12-31T23:59:59.000Z")
                #expect(Timestamp.rfc3339(past.modifiedAt).hasPrefix("0001-01-01T00:00:00"))
                // In an archive the header holds what it can.
                #expect(try entries(try await tar(fixture, spec, "/tmp"))["far"] != nil)

                for path in ["/usr/bin/evil", "/usr/local/x"] {
                    await #expect(throws: DomainError.self) { try await runtime.writeFile(spec, path, bytes: [1]) }
                }
                do {
                    try await runtime.writeFile(spec, "/usr/bin/evil", bytes: [1])
                } catch let error as DomainError {
                    #expect(error.kind == .unprocessable)
                }
                do {
                    try await runtime.remove(spec, "/usr/bin/dash")
                } catch let error as DomainError {
                    #expect(error.kind == .unprocessable)
                }
                // The kernel's filesystems are left alone.
                for path in ["/proc/self/status", "/sys/kernel/notes", "/proc/1/environ"] {
                    await #expect(throws: DomainError.self, "\(path)") { _ = try await read(fixture, spec, path) }
                }
                await #expect(throws: DomainError.self) { _ = try await tar(fixture, spec, "/proc") }
            }
        }
    }

    /// An archive stops when its writer does (the client left): nothing more is read, and the
    /// file it was reading is closed.
    @Test func anArchiveStopsWhenItsClientLeaves() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer(fixture.spec(diskMB: 256)) { spec in
                #expect(try await dash(fixture, spec.id, "head -c 100M /dev/zero > /root/big").exitCode == 0)
                let tree = try await fixture.runtime.archive(spec, directory: "/root", prefix: "")
                let sent = Collected()
                let task = Task {
                    let writer = TarWriter(mtime: Date()) { bytes in
                        sent.bytes += bytes.prefix(1)
                        // The client takes a few pieces, then goes quiet until it leaves.
                        if sent.bytes.count > 64 { try await Task.sleep(for: .seconds(3600)) }
                    }
                    _ = try await tree.write(to: writer)
                }
                func bigOpen() -> Bool {
                    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
                    return fds.contains { ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) ?? "").hasSuffix("/root/big") }
                }
                // (A bounded wait: a writer that failed early must not hang the suite.)
                for _ in 0..<3000 where sent.bytes.count <= 64 { try await Task.sleep(for: .milliseconds(10)) }
                #expect(sent.bytes.count > 64, "the archive got going")
                #expect(bigOpen(), "the archive is reading the big file")
                task.cancel()
                await #expect(throws: CancellationError.self) { try await task.value }
                let count = sent.bytes.count
                #expect(!bigOpen(), "the big file is closed once the client left")
                try await Task.sleep(for: .milliseconds(200))
                #expect(sent.bytes.count == count)
            }
        }
    }
}
