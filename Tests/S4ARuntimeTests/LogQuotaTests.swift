import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing

/// What a server's runs print costs the host at most the server's log quota, however many runs.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct LogQuotaTests {
    @Test func backgroundRunsFloodingTheirLogsStayUnderTheServersQuota() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer(fixture.spec(diskMB: 64)) { spec in
                let logs = fixture.runtime.layout.logsDirectory(spec.id)
                // Eight runs of ~5 MiB each, two at a time: 40 MiB printed, 32 MiB allowed.
                let flood = "import sys\nfor i in range(5000): sys.stdout.write('%05d ' % i + 'x' * 1000 + '\\n')\nprint('end of run')"
                for pair in 0..<4 {
                    let names = ["run_\(pair)a", "run_\(pair)b"]
                    for name in names {
                        try await fixture.runtime.spawn(spec.id, ProcessRequest(name: name, argv: ["python3", "-c", flood]))
                    }
                    for name in names {
                        var ended = false
                        for _ in 0..<1200 where !ended {
                            ended = try await fixture.runtime.processStatus(spec.id, name: name)?.state == .exited
                            if !ended { try await Task.sleep(for: .milliseconds(50)) }
                        }
                        #expect(ended, "\(name) did not end")
                    }
                    #expect(LogRetentionTests.usage(logs) <= ServerLogFiles.quotaBytes, "after pair \(pair)")
                }
                // The newest runs' ends are kept; the first run's file went.
                let (lines, _) = try await fixture.runtime.readLogs(spec.id, after: nil)
                #expect(lines.filter { $0.process == "run_3b" && $0.stream == .stdout }.count == 5_001, "the whole flood")
                #expect(!FileManager.default.fileExists(atPath: logs + "/run_0a.jsonl"))
            }
        }
    }
}
