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
        MicroDollars.fixedPoint(text, decimals: 3)
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

    /// The cost of sending `bytes` out, rounded up to the micro-dollar.
    public func egressCost(bytes: Int64) -> MicroDollars {
        let exact = Int128(max(0, bytes)) * Int128(egressNanosPerGiB)
        let denominator = Int128(1 << 30) * 1000
        return MicroDollars(Int64((exact + denominator - 1) / denominator))
    }

    /// Dollars per hour for an allocation (for display), rounded up to the micro-dollar.
    public func perHour(cpuMillis: Int, memoryMB: Int) -> MicroDollars {
        cost(cpuMillis: cpuMillis, memoryMB: memoryMB, milliseconds: 3_600_000)
    }
}

extension RateCard {
    public struct FileError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Reads an operator's prices file: a JSON object of micro-dollar prices, each a string or
    /// number with at most three decimals, under `vcpu_second`, `gib_second` and `egress_gib`;
    /// a price left out keeps its value in `base`. Unknown keys are refused (a typo would
    /// otherwise silently keep a default price).
    public static func load(file path: String, over base: RateCard) throws -> RateCard {
        guard let data = FileManager.default.contents(atPath: path) else { throw FileError(description: "cannot read prices file \(path)") }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FileError(description: "prices file \(path) is not a JSON object")
        }
        let keys: [String: WritableKeyPath<RateCard, Int64>] = [
            "vcpu_second": \.cpuNanosPerVCPUSecond, "gib_second": \.memoryNanosPerGiBSecond, "egress_gib": \.egressNanosPerGiB,
        ]
        var card = base
        for (key, value) in object {
            guard let keyPath = keys[key] else {
                throw FileError(description: "prices file \(path): unknown price \(key) (known: \(keys.keys.sorted().joined(separator: ", ")))")
            }
            let text = (value as? String) ?? (value as? NSNumber).map { "\($0)" } ?? ""
            guard let nanos = nanos(fromMicros: text) else {
                throw FileError(description: "prices file \(path): \(key) must be micro-dollars with at most three decimals")
            }
            card[keyPath: keyPath] = nanos
        }
        return card
    }
}
