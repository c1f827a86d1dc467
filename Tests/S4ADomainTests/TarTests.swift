import Foundation
@testable import S4ADomain
import Testing

/// Archives we write: ustar headers as `tar` reads them, PAX for what they cannot carry, and
/// never a name that could climb out of where it is unpacked.
struct TarTests {
    final class Collected: @unchecked Sendable { var bytes: [UInt8] = [] }

    func archive(_ build: (TarWriter) async throws -> Void) async throws -> [UInt8] {
        let collected = Collected()
        let tar = TarWriter(mtime: Date(timeIntervalSince1970: 1_800_000_000)) { collected.bytes += $0 }
        try await build(tar)
        return collected.bytes
    }

    func entries(_ bytes: [UInt8]) throws -> [TarReader.Entry] {
        var reader = TarReader(bytes)
        var entries: [TarReader.Entry] = []
        while let entry = try reader.next() { entries.append(entry) }
        return entries
    }

    @Test func entriesAreWholeBlocksWithValidHeaders() async throws {
        let long = "s4a-export/" + String(repeating: "d", count: 80) + "/" + String(repeating: "f", count: 60) + ".jsonl"
        let bytes = try await archive { tar in
            try await tar.directory("s4a-export")
            try await tar.file("s4a-export/a.json", Array("{}\n".utf8))
            var pieces = [Array(repeating: UInt8(7), count: 700), [1, 2, 3]]
            try await tar.file(long, size: 703) { pieces.isEmpty ? nil : pieces.removeFirst() }
            try await tar.finish()
        }
        #expect(bytes.count % 512 == 0)
        // Checksums: the header's bytes with the field as spaces, in octal.
        let header = Array(bytes[512..<1024])
        var blanked = header
        for index in 148..<156 { blanked[index] = 0x20 }
        let stored = Int(String(decoding: header[148..<154], as: UTF8.self), radix: 8)
        #expect(stored == blanked.reduce(0) { $0 + Int($1) })
        #expect(String(decoding: header[0..<17], as: UTF8.self) == "s4a-export/a.json")
        let read = try entries(bytes)
        #expect(read.map(\.name) == ["s4a-export", "s4a-export/a.json", long])
        #expect(read.map(\.kind) == [.directory, .file, .file])
        #expect(Array(bytes[read[2].data]) == Array(repeating: 7, count: 700) + [1, 2, 3])
        // A size that does not match what was given is refused.
        await #expect(throws: DomainError.self) {
            _ = try await archive { tar in
                var once = true
                try await tar.file("x", size: 10) { defer { once = false }; return once ? [1] : nil }
            }
        }
    }

    @Test func writerRefusesNamesThatClimbOrAreAbsolute() async throws {
        for name in ["/etc/passwd", "../x", "a/../../x", "a/..", "", "a\0b"] {
            await #expect(throws: DomainError.self, "\(name)") {
                _ = try await archive { tar in try await tar.file(name, [1]) }
            }
        }
    }

    /// Names from a server: newlines, non-ASCII, over 100 and 255 bytes; links likewise.
    @Test func hostileNamesTravelInPAXAndComeBackExactly() async throws {
        let names = ["srv/line\nbreak", "srv/ünïcode-名前", "srv/" + String(repeating: "x", count: 300),
                     String(repeating: "d/", count: 120) + "f", "srv/tab\there", "srv/..dots..", "srv/" + String(repeating: "é", count: 200)]
        let bytes = try await archive { tar in
            for name in names {
                var given = false
                try await tar.entry(TarEntry(name: name, kind: .file, mode: 0o640, size: 2, mtime: 5)) {
                    defer { given = true }
                    return given ? nil : [9, 9]
                }
            }
            try await tar.entry(TarEntry(name: "srv/link", kind: .symlink, mode: 0o777, linkTarget: "../" + String(repeating: "t", count: 150)))
            try await tar.finish()
        }
        let read = try entries(bytes)
        #expect(read.map(\.name) == names + ["srv/link"])
        #expect(read.last?.linkTarget == "../" + String(repeating: "t", count: 150))
        #expect(read.dropLast().allSatisfy { $0.mode == 0o640 && $0.mtime == 5 && $0.data.count == 2 })
        // What a reader that ignores PAX sees is still a safe name.
        var offset = 0
        while offset + 512 <= bytes.count {
            let header = Array(bytes[offset..<(offset + 512)])
            if header.allSatisfy({ $0 == 0 }) { break }
            let name = String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self)
            #expect(TarName.isSafe(name), "\(name)")
            let size = TarReader.number(header[124..<136]) ?? 0
            offset += 512 + (size + 511) / 512 * 512
        }
    }

    @Test func extremeTimesAndSizesAreClamped() async throws {
        for mtime in [Int64.min, -1, 0, Int64(TarWriter.maxOctal11) + 1, Int64.max] {
            let bytes = try await archive { tar in try await tar.entry(TarEntry(name: "f", kind: .directory, mode: 0o7777_7777, mtime: mtime)) }
            let entry = try #require(try entries(bytes).first)
            #expect((0...Int64(TarWriter.maxOctal11)).contains(entry.mtime))
            #expect(entry.mode <= 0o7777)
        }
        let huge = try await archive { tar in
            try await tar.entry(TarEntry(name: "f", kind: .symlink, mode: 0, size: Int.max, uid: Int.max, gid: -5))
        }
        #expect(try entries(huge).first?.data.count == 0)
    }

    func raw(_ name: String, type: Character, size: Int = 0, link: String = "") throws -> [UInt8] {
        try TarWriter.header(name: name, size: size, type: type, mode: 0o644, mtime: 0, link: link, uid: 0, gid: 0)
            + [UInt8](repeating: 0, count: (size + 511) / 512 * 512)
    }

    /// What unpacking must never accept, each a clear problem.
    @Test func readerRefusesClimbingAbsoluteAndSpecialEntries() throws {
        for (name, type) in [("../x", Character("0")), ("/etc/x", "0"), ("a/../../x", "5"), ("dev", "3"), ("fifo", "6"),
                             ("hard", "1")] {
            #expect(throws: DomainError.self, "\(name)") { _ = try entries(try raw(name, type: type) + [UInt8](repeating: 0, count: 1024)) }
        }
        #expect(try entries(try raw("./a/./b//c", type: "0", size: 3)).first?.name == "a/b/c")
        // Damaged: a bad checksum, a size past the end, a header cut short.
        var bad = try raw("a", type: "0")
        bad[0] = UInt8(ascii: "b")
        #expect(throws: DomainError.self) { _ = try entries(bad) }
        #expect(throws: DomainError.self) { _ = try entries(Array(try raw("a", type: "0", size: 4096).prefix(1024))) }
        #expect(throws: DomainError.self) { _ = try entries(Array(try raw("a", type: "0").prefix(300))) }
    }

    /// Random bytes and damaged archives, many of them: the reader answers entries or a
    /// problem, never traps, and what it gives is always safe and within the archive.
    @Test func readerSurvivesRandomAndMutatedArchives() async throws {
        var random = SplitMix64(seed: 0x5eed)
        let valid = try await archive { tar in
            try await tar.directory("d")
            try await tar.file("d/" + String(repeating: "n", count: 200), [1, 2, 3])
            try await tar.entry(TarEntry(name: "d/l", kind: .symlink, mode: 0o777, linkTarget: "x\ny"))
            try await tar.file("d/f", Array(repeating: 4, count: 1500))
            try await tar.finish()
        }
        for round in 0..<3000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                bytes = (0..<Int.random(in: 0...2048, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 1:
                bytes = valid
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            default:
                // A header with random fields and a checksum that matches.
                var header = (0..<512).map { _ in UInt8.random(in: 0...255, using: &random) }
                header[156] = [UInt8(ascii: "0"), UInt8(ascii: "5"), UInt8(ascii: "2"), UInt8(ascii: "x"), UInt8(ascii: "L")]
                    .randomElement(using: &random) ?? 0
                if Bool.random(using: &random) { header[124] = 0x80 | UInt8.random(in: 0...0x7f, using: &random) }
                for index in 148..<156 { header[index] = 0x20 }
                let sum = String(header.reduce(0) { $0 + Int($1) }, radix: 8)
                for (index, byte) in sum.utf8.enumerated() { header[148 + index] = byte }
                header[148 + sum.utf8.count] = 0
                bytes = header + (0..<Int.random(in: 0...1024, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            var reader = TarReader(bytes)
            do {
                while let entry = try reader.next() {
                    #expect(entry.name.isEmpty || TarName.isSafe(entry.name))
                    #expect(entry.data.lowerBound >= 0 && entry.data.upperBound <= bytes.count)
                }
            } catch is DomainError {
                // A clear problem is a fine answer.
            }
        }
    }

    /// What `stat` says of a server's file, any values at all: an entry whose time an RFC 3339
    /// timestamp can write (the control plane once crashed on a year-1e12 mtime).
    @Test func statConversionNeverTrapsAndClampsTimes() throws {
        var random = SplitMix64(seed: 42)
        let extremes: [Int64] = [.min, .min + 1, -62_135_769_601, -1, 0, 1, 253_402_300_800, 31_556_952_000_000_000, .max]
        for round in 0..<5000 {
            let seconds = round < extremes.count ? extremes[round] : Int64.random(in: .min ... .max, using: &random)
            let entry = FileEntry(name: (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 1...255, using: &random) },
                                  mode: UInt32.random(in: 0 ... .max, using: &random),
                                  size: round % 2 == 0 ? Int64.min : Int64.random(in: .min ... .max, using: &random),
                                  mtimeSeconds: seconds, mtimeNanoseconds: Int64.random(in: .min ... .max, using: &random))
            let time = entry.modifiedAt.timeIntervalSince1970
            #expect(time >= Double(FileEntry.dateRange.lowerBound) && time < Double(FileEntry.dateRange.upperBound) + 1)
            #expect(entry.size >= 0)
            #expect(entry.mode.count <= 4)
            let text = Timestamp.rfc3339(entry.modifiedAt)
            #expect(text.count == 24, "\(text)")
        }
        #expect(Timestamp.rfc3339(FileEntry.date(seconds: .max, nanoseconds: 0)) == "9999-12-31T23:59:59.000Z")
        #expect(Timestamp.rfc3339(FileEntry.date(seconds: .min, nanoseconds: 0)) == "0001-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: .infinity)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 1e300)) == "9999-12-31T23:59:59.999Z")
    }
}

/// A small seeded generator: the same "random" cases on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
