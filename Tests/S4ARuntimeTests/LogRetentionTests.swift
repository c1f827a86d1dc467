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
}
