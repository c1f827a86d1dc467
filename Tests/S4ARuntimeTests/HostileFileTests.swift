import Foundation
@testable import S4ARuntime
import Testing

/// Files the host reads beside a server (a lease deadline, cgroup counters) parsed as untrusted:
/// random and extreme bytes give nil or a value, never a trap.
@Suite struct HostileFileTests {
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    @Test func leaseDeadlinesParseOrAreRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lease-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var random = Seeded(state: 42)
        let fixed = ["99999999999999999999999999999\n", "9223372036854775807\n", "9223372036854775808\n", "-1\n", "",
                     "\n", "12a\n", "1700000000000\n", String(repeating: "9", count: 31)]
        let randomTexts = (0..<2000).map { _ in
            String(decoding: (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) },
                   as: UTF8.self)
        }
        for text in fixed + randomTexts {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            _ = LeaseWatchdog.readDeadline(path)
        }
        try Data("1700000000000\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(LeaseWatchdog.readDeadline(path) == Date(timeIntervalSince1970: 1_700_000_000))
        try Data("99999999999999999999999999999\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(LeaseWatchdog.readDeadline(path) == nil)
    }

    @Test func cgroupCountersParseOrAreAbsent() {
        #expect(CgroupKeyValues.value("oom_kill", in: "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3)
        #expect(CgroupKeyValues.value("oom_kill", in: "oom_kill 99999999999999999999999\n") == nil)
        #expect(CgroupKeyValues.value("oom_kill", in: "oom_kill -1\n") == nil)
        #expect(CgroupKeyValues.value("oom_kill", in: "") == nil)
        var random = Seeded(state: 7)
        for _ in 0..<2000 {
            let text = String(decoding: (0..<Int.random(in: 0...200, using: &random)).map { _ in
                [UInt8(ascii: "o"), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "1"), UInt8.random(in: 0...255, using: &random)]
                    .randomElement(using: &random)!
            }, as: UTF8.self)
            _ = CgroupKeyValues.value("oom_kill", in: "oom_kill " + text)
        }
    }
}
