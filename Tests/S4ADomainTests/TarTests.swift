import Foundation
@testable import S4ADomain
import Testing

/// The export's tar: ustar headers as `tar` reads them, and another tar's entries spliced in
/// without its end marker, whatever the pieces it arrives in.
struct TarTests {
    final class Collected: @unchecked Sendable { var bytes: [UInt8] = [] }

    func archive(_ build: (TarWriter) async throws -> Void) async throws -> [UInt8] {
        let collected = Collected()
        let tar = TarWriter(mtime: Date(timeIntervalSince1970: 1_800_000_000)) { collected.bytes += $0 }
        try await build(tar)
        return collected.bytes
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
        #expect(try TarEntryStream.size(of: header) == 3)
        // A size that does not match what was given is refused.
        await #expect(throws: DomainError.self) {
            _ = try await archive { tar in
                var once = true
                try await tar.file("x", size: 10) { defer { once = false }; return once ? [1] : nil }
            }
        }
    }

    @Test func anotherArchivesEntriesPassThroughWithoutItsEndMarker() async throws {
        let inner = try await archive { tar in
            try await tar.file("files/a", Array(repeating: 0, count: 1024))  // data of zeros is not the end
            try await tar.file("files/b", Array("hello".utf8))
            try await tar.finish()
        }
        let padded = inner + [UInt8](repeating: 0, count: 10240 - inner.count % 10240)
        for pieceSize in [1, 100, 511, 512, 4096, padded.count] {
            var stream = TarEntryStream()
            var out: [UInt8] = []
            var offset = 0
            while offset < padded.count {
                out += try stream.feed(Array(padded[offset..<min(offset + pieceSize, padded.count)]))
                offset += pieceSize
            }
            #expect(stream.ended)
            #expect(out == Array(inner.dropLast(1024)), "pieces of \(pieceSize)")
        }
        var cut = TarEntryStream()
        _ = try cut.feed(Array(inner[0..<700]))
        #expect(cut.unfinished == 1024 - 188)
    }
}
