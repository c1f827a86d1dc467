import Foundation
import S4ADomain
@testable import S4ARuntime
import Testing

/// The retention janitor's part in the logs: old lines go, counted per day; newer ones stay;
/// a process still writing follows the replaced file and loses nothing.
@Suite struct LogRetentionTests {
    @Test func oldLinesGoAndAWriterFollowsTheReplacedFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-logs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Two lines from long ago, as an earlier month's writer left them, then today's writer.
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/run_app.jsonl"
        let encoder = ServerLogFiles.encoder()
        var old = ""
        for (text, time) in [("ancient one", "2026-01-02T03:04:05.000Z"), ("ancient two", "2026-01-02T23:59:59.999Z")] {
            let line = LogLine(time: try ServerLogFiles.timeFormat.parse(time), stream: .stdout, process: "run_app", text: text)
            old += String(decoding: try encoder.encode(line), as: UTF8.self) + "\n"
        }
        try old.write(toFile: path, atomically: false, encoding: .utf8)
        // A rotated file wholly in the past goes too.
        try old.write(toFile: directory + "/run_app.1.jsonl", atomically: false, encoding: .utf8)
        let writer = try ServerLogWriter(directory: directory, process: "run_app")
        writer.system("started")
        writer.append(.stdout, Array("before prune\n".utf8))

        let removed = ServerLogFiles.prune(directory: directory, before: Date().addingTimeInterval(-3600))
        #expect(removed == ["2026-01-02": 4])
        writer.append(.stdout, Array("after prune\n".utf8))

        let (lines, _) = ServerLogFiles.read(directory: directory, after: nil)
        #expect(lines.map(\.text) == ["started", "before prune", "after prune"])
        let rotated = (try? String(contentsOfFile: directory + "/run_app.1.jsonl", encoding: .utf8)) ?? ""
        #expect(rotated.isEmpty)
        // Nothing left to prune: nothing changes.
        #expect(ServerLogFiles.prune(directory: directory, before: Date().addingTimeInterval(-3600)).isEmpty)
    }

    /// Seconds of writing on a thread of its own, not one of the few that run every suite's tasks
    /// (the lease tests beside this one must wake on time).
    static func offThePool(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    /// Bytes of every file in `directory`.
    static func usage(_ directory: String) -> UInt64 {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? UInt64) ?? 0)
        }
    }

    @Test func aFloodOfLogsAcrossManyRunsStaysUnderTheServersQuota() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-logs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let line = Array(String(repeating: "flood ", count: 170).utf8) + [UInt8(ascii: "\n")]  // ~1 KiB
        // Twelve runs one after the other, 5 MiB each (the quota would hold six)…
        for run in 0..<12 {
            try await Self.offThePool {
                let writer = try ServerLogWriter(directory: directory, process: "run_\(run)")
                for _ in 0..<5_000 { writer.append(.stdout, line) }
                writer.system("run \(run) done")
            }
            #expect(Self.usage(directory) <= ServerLogFiles.quotaBytes, "after run \(run)")
        }
        // …then four at once, each past the rotation size, watched while they write.
        let watching = Task.detached {
            var worst: UInt64 = 0
            while !Task.isCancelled {
                worst = max(worst, Self.usage(directory))
                try? await Task.sleep(for: .milliseconds(5))
            }
            return worst
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for run in 12..<16 {
                group.addTask {
                    try await Self.offThePool {
                        let writer = try ServerLogWriter(directory: directory, process: "run_\(run)")
                        for _ in 0..<9_000 { writer.append(.stderr, line) }
                        writer.system("run \(run) done")
                    }
                }
            }
            try await group.waitForAll()
        }
        watching.cancel()
        #expect(await watching.value <= ServerLogFiles.quotaBytes)
        #expect(Self.usage(directory) <= ServerLogFiles.quotaBytes)
        // The oldest went first: the last runs' ends are there, the first runs are gone.
        let texts = Set(ServerLogFiles.read(directory: directory, after: nil).lines.map(\.text))
        for run in 12..<16 { #expect(texts.contains("run \(run) done")) }
        #expect(!texts.contains("run 0 done"))
        #expect(!FileManager.default.fileExists(atPath: directory + "/run_0.jsonl"))
    }
}
