import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing

/// Long-running processes under the per-server supervisor: their logs, exit status, restart
/// policy, and their end when the server stops. The supervisor is the real `s4a supervise`.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct SupervisorTests {
    func waitForExit(_ fixture: RuntimeFixture, _ id: String, _ name: String) async throws -> ProcessStatus {
        for _ in 0..<300 {
            if let status = try await fixture.runtime.processStatus(id, name: name), status.state == .exited { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RuntimeError.failed("\(name) did not end")
    }

    func supervisorPids(of id: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
            .filter { RuncRuntime.isSupervisor($0, of: id) }
    }

    @Test func outputGoesToTimestampedLogsAndTheExitCodeIsKept() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let before = Date()
                try await fixture.runtime.spawn(spec.id, ProcessRequest(
                    name: "run_one", argv: ["/bin/sh", "-c", "echo hello; echo oops >&2; printf 'no newline'; exit 3"],
                    env: ["WHO": "x"]))
                let status = try await waitForExit(fixture, spec.id, "run_one")
                #expect(status.exitCode == 3)
                #expect(status.restarts == 0)
                let (lines, _) = try await fixture.runtime.readLogs(spec.id, after: nil)
                let printed = lines.filter { $0.stream != .system }
                #expect(printed.map(\.text).sorted() == ["hello", "no newline", "oops"])
                #expect(printed.first { $0.text == "oops" }?.stream == .stderr)
                #expect(lines.allSatisfy { $0.process == "run_one" && $0.time >= before.addingTimeInterval(-1) })
                #expect(lines.contains { $0.stream == .system && $0.text == "exited with code 3" })
                // It records the end, then exits: give a loaded machine a moment between the two.
                for _ in 0..<50 where !supervisorPids(of: spec.id).isEmpty { try await Task.sleep(for: .milliseconds(50)) }
                #expect(supervisorPids(of: spec.id).isEmpty)
                // A name is one process's record: refused while it runs, free again once it ended
                // (a deployment starts again under its name when its server does).
                try await fixture.runtime.spawn(spec.id, ProcessRequest(name: "run_two", argv: ["sleep", "30"]))
                await #expect(throws: RuntimeError.self) {
                    try await fixture.runtime.spawn(spec.id, ProcessRequest(name: "run_two", argv: ["true"]))
                }
                try await fixture.runtime.endProcess(spec.id, name: "run_two")
                let ended = try await waitForExit(fixture, spec.id, "run_two")
                #expect(ended.state == .exited)
                let ps = try await fixture.sh(spec.id, "ps -eo args").out
                #expect(!ps.contains("sleep 30"), "\(ps)")
                try await fixture.runtime.spawn(spec.id, ProcessRequest(name: "run_one", argv: ["sh", "-c", "exit 4"]))
                #expect(try await waitForExit(fixture, spec.id, "run_one").exitCode == 4)
            }
        }
    }

    @Test func aCursorReadsOnlyWhatCameAfterIt() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                try await fixture.runtime.spawn(spec.id, ProcessRequest(
                    name: "run_ticker", argv: ["/bin/sh", "-c", "echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second"]))
                var (lines, cursor) = try await fixture.runtime.readLogs(spec.id, after: nil)
                for _ in 0..<100 where !lines.contains(where: { $0.text == "first" }) {
                    try await Task.sleep(for: .milliseconds(50))
                    (lines, cursor) = try await fixture.runtime.readLogs(spec.id, after: nil)
                }
                #expect(lines.contains { $0.text == "first" })
                _ = try await fixture.sh(spec.id, "touch /tmp/go")
                _ = try await waitForExit(fixture, spec.id, "run_ticker")
                let (later, _) = try await fixture.runtime.readLogs(spec.id, after: cursor)
                #expect(later.contains { $0.text == "second" })
                #expect(!later.contains { $0.text == "first" })
            }
        }
    }

    @Test func longLinesAreCutIntoPieces() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                try await fixture.runtime.spawn(spec.id, ProcessRequest(
                    name: "run_long", argv: ["python3", "-c", "print('x' * 40000)"]))
                _ = try await waitForExit(fixture, spec.id, "run_long")
                let pieces = try await fixture.runtime.readLogs(spec.id, after: nil).lines.filter { $0.stream == .stdout }
                #expect(pieces.map(\.text.count) == [16384, 16384, 40000 - 32768])
            }
        }
    }

    @Test func onFailureRestartsWithBackoffUntilItSucceeds() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                // Fails the first time (no marker on the disk yet), succeeds the second.
                try await fixture.runtime.spawn(spec.id, ProcessRequest(
                    name: "run_flaky", argv: ["/bin/sh", "-c", "if [ -e /root/ran ]; then echo fine; else touch /root/ran; exit 1; fi"],
                    restart: .onFailure))
                let status = try await waitForExit(fixture, spec.id, "run_flaky")
                #expect(status.exitCode == 0)
                #expect(status.restarts == 1)
                let texts = try await fixture.runtime.readLogs(spec.id, after: nil).lines.map(\.text)
                #expect(texts.contains("restarting in 1 s"))
                #expect(texts.contains("fine"))
            }
        }
    }

    @Test func stoppingTheServerEndsItsSupervisorsAndTheirProcesses() async throws {
        try await RuntimeFixture.run { fixture in
            let spec = fixture.spec()
            try await fixture.runtime.prepare(spec)
            try await fixture.runtime.start(spec)
            try await fixture.runtime.spawn(spec.id, ProcessRequest(name: "run_forever", argv: ["sleep", "1000"], restart: .always))
            #expect(try await fixture.runtime.processStatus(spec.id, name: "run_forever")?.state == .running)
            #expect(supervisorPids(of: spec.id).count == 1)
            try await fixture.runtime.stop(spec.id)
            #expect(supervisorPids(of: spec.id).isEmpty)
            let status = try await fixture.runtime.processStatus(spec.id, name: "run_forever")
            #expect(status?.state == .exited)
            // Logs stay with the server across stop (until it is deleted).
            #expect(try await fixture.runtime.readLogs(spec.id, after: nil).lines.contains { $0.text == "started" })
            try await fixture.runtime.destroy(spec.id)
            #expect(try await fixture.runtime.readLogs(spec.id, after: nil).lines.isEmpty)
        }
    }

    @Test func processesShareOneSupervisorThatLivesInALimitedHostCgroup() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let names = (0..<12).map { "run_many\($0)" }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for name in names {
                        group.addTask { try await fixture.runtime.spawn(spec.id, ProcessRequest(name: name, argv: ["sleep", "1000"])) }
                    }
                    try await group.waitForAll()
                }
                for name in names { #expect(try await fixture.runtime.processStatus(spec.id, name: name)?.state == .running) }
                let supervisors = supervisorPids(of: spec.id)
                #expect(supervisors.count == 1)
                // Its host cgroup (not the control plane's) has a memory limit, and the
                // processes it started are the server's, in the server's cgroup.
                let pid = try #require(supervisors.first)
                let cgroups = try String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)
                let memory = try #require(cgroups.split(separator: "\n").first { $0.contains("memory") || $0.hasPrefix("0::") })
                #expect(memory.hasSuffix("/s4a-supervise/\(spec.id)"), "\(cgroups)")
                let recorded = try #require(SupervisorCgroup.recorded(in: fixture.runtime.layout.processesDirectory(spec.id), id: spec.id))
                #expect(recorded.memoryLimit == SupervisorCgroup.memoryBytes)
                let sleeps = try await fixture.sh(spec.id, "ps -eo args | grep -c '^sleep 1000'").out
                #expect(sleeps.trimmingCharacters(in: .whitespacesAndNewlines) == "12")
                let hostSleeps = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
                    .filter { ProcessTable.arguments(of: $0) == ["sleep", "1000"] }
                #expect(hostSleeps.count >= 12)
                for sleeper in hostSleeps.prefix(1) {
                    let own = try String(contentsOfFile: "/proc/\(sleeper)/cgroup", encoding: .utf8)
                    #expect(own.contains("/s4a/\(spec.id)"), "\(own)")
                }
                // Ending one leaves the others (and their supervisor) running.
                try await fixture.runtime.endProcess(spec.id, name: names[0])
                #expect(try await fixture.runtime.processStatus(spec.id, name: names[0])?.state == .exited)
                #expect(try await fixture.runtime.processStatus(spec.id, name: names[1])?.state == .running)
                #expect(supervisorPids(of: spec.id) == supervisors)
            }
        }
    }

    @Test func aSupervisorKilledFromOutsideLeavesRecordsThatSayTheOutcomeIsUnknown() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                try await fixture.runtime.spawn(spec.id, ProcessRequest(name: "run_orphan", argv: ["sleep", "1000"]))
                for pid in supervisorPids(of: spec.id) { kill(pid, SIGKILL) }
                for _ in 0..<50 where !supervisorPids(of: spec.id).isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                let status = try #require(try await fixture.runtime.processStatus(spec.id, name: "run_orphan"))
                #expect(status.state == .exited && status.exitCode == nil)
                // A new one starts for the next process.
                try await fixture.runtime.spawn(spec.id, ProcessRequest(name: "run_next", argv: ["sh", "-c", "exit 5"]))
                #expect(try await waitForExit(fixture, spec.id, "run_next").exitCode == 5)
            }
        }
    }

    @Test func aStoppedServerCannotSpawn() async throws {
        try await RuntimeFixture.run { fixture in
            let spec = fixture.spec()
            try await fixture.runtime.prepare(spec)
            try await fixture.runtime.stop(spec.id)
            await #expect(throws: RuntimeError.notRunning) {
                try await fixture.runtime.spawn(spec.id, ProcessRequest(name: "run_x", argv: ["true"]))
            }
            await #expect(throws: RuntimeError.self) {
                try await fixture.runtime.spawn(spec.id, ProcessRequest(name: "../escape", argv: ["true"]))
            }
            try await fixture.runtime.destroy(spec.id)
        }
    }
}
