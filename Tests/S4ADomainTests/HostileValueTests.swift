import Foundation
@testable import S4ADomain
import Testing

/// Values that come from outside (a server's files, a client's query) reach integer conversions:
/// extreme and random ones must clamp, never trap.
@Suite struct HostileValueTests {
    /// A small deterministic generator (xorshift64*), so a failure can be replayed.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    static let extremes: [Double] = [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                     1e300, -1e300, 1e15, -1e15, 9.3e15, -9.3e15, 0, -0.0, .leastNonzeroMagnitude,
                                     253_402_300_800, -62_135_596_801, 4_102_444_800]

    @Test func timesOfAnySizeBecomeMillisecondsWithinTheYears1To9999() {
        var random = Seeded(state: 0x5EED)
        let doubles = Self.extremes + (0..<5000).map { _ in Double(bitPattern: random.next()) }
        for seconds in doubles {
            let date = Date(timeIntervalSince1970: seconds)
            let millis = date.epochMilliseconds
            #expect(millis >= -62_135_769_600_000 && millis <= 253_402_300_799_999, "\(seconds)")
            let text = Timestamp.rfc3339(date)
            #expect(text.hasSuffix("Z") && text.count >= 24, "\(seconds) → \(text)")
        }
        #expect(Date(timeIntervalSince1970: 1e300).epochMilliseconds == 253_402_300_799_999)
        #expect(Date(timeIntervalSince1970: .nan).epochMilliseconds == 0)
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 1e300)) == "9999-12-31T23:59:59.999Z")
        #expect(Timestamp.rfc3339(Date(timeIntervalSince1970: 41.194)) == "1970-01-01T00:00:41.194Z")
    }
}
