import Foundation

/// What running a server costs, set by the operator. Prices are integers in nano-dollars
/// (10⁻⁹ USD) so that the defaults — 14 µ$ per vCPU-second, 4.5 µ$ per GiB-second — are
/// exact; every charge is computed exactly and rounded up to whole micro-dollars once.
public struct RateCard: Sendable, Equatable {
    public var cpuNanosPerVCPUSecond: Int64
    public var memoryNanosPerGiBSecond: Int64
    public var egressNanosPerGiB: Int64

    public static let standard = RateCard(cpuNanosPerVCPUSecond: 14_000, memoryNanosPerGiBSecond: 4_500,
                                          egressNanosPerGiB: 90_000_000)

    public init(cpuNanosPerVCPUSecond: Int64, memoryNanosPerGiBSecond: Int64, egressNanosPerGiB: Int64) {
        self.cpuNanosPerVCPUSecond = cpuNanosPerVCPUSecond
        self.memoryNanosPerGiBSecond = memoryNanosPerGiBSecond
        self.egressNanosPerGiB = egressNanosPerGiB
    }

    /// Parses micro-dollars with up to three decimals (`"4.5"`, `"14"`) into nano-dollars.
    public static func nanos(fromMicros text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, (1...9).contains(whole.count), whole.allSatisfy(\.isASCIIDigit),
              let units = Int64(whole) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...3).contains(digits.count), digits.allSatisfy(\.isASCIIDigit), let value = Int64(digits) else { return nil }
            fraction = value * Int64([100, 10, 1][digits.count - 1])
        }
        return units * 1000 + fraction
    }

    /// µ$ = milliseconds × perMillisecond / denominator: millicores to cores (10³), MiB to GiB
    /// (1024), milliseconds to seconds (10³) and nano- to micro-dollars (10³).
    static let denominator: Int128 = 1024 * 1_000_000_000

    func perMillisecond(cpuMillis: Int, memoryMB: Int) -> Int128 {
        Int128(cpuMillis) * Int128(cpuNanosPerVCPUSecond) * 1024 + Int128(memoryMB) * Int128(memoryNanosPerGiBSecond) * 1000
    }

    /// The cost of an allocation running for `milliseconds`, rounded up to the micro-dollar.
    public func cost(cpuMillis: Int, memoryMB: Int, milliseconds: Int64) -> MicroDollars {
        let exact = Int128(max(0, milliseconds)) * perMillisecond(cpuMillis: cpuMillis, memoryMB: memoryMB)
        return MicroDollars(Int64((exact + Self.denominator - 1) / Self.denominator))
    }

    /// The longest run that `budget` pays for: its cost is at most `budget`, a millisecond
    /// more would cost more. Nil when the allocation costs nothing (any time is affordable).
    public func affordableMilliseconds(_ budget: MicroDollars, cpuMillis: Int, memoryMB: Int) -> Int64? {
        let rate = perMillisecond(cpuMillis: cpuMillis, memoryMB: memoryMB)
        guard rate > 0 else { return nil }
        return Int64(min(Int128(Int64.max), Int128(max(0, budget.value)) * Self.denominator / rate))
    }

    /// Dollars per hour for an allocation (for display), rounded up to the micro-dollar.
    public func perHour(cpuMillis: Int, memoryMB: Int) -> MicroDollars {
        cost(cpuMillis: cpuMillis, memoryMB: memoryMB, milliseconds: 3_600_000)
    }
}
