/// Money as integer micro-dollars; never a float. Parsed from and printed as decimal strings.
public struct MicroDollars: Hashable, Comparable, Sendable {
    public var value: Int64
    public init(_ value: Int64) { self.value = value }

    public static func < (a: MicroDollars, b: MicroDollars) -> Bool { a.value < b.value }

    /// Parses `"12"`, `"12.5"` or `"0.000001"`: at most 9 integer digits and 6 decimals.
    public init?(decimal text: String) {
        guard let value = Self.fixedPoint(text, decimals: 6) else { return nil }
        self.value = value
    }

    /// A plain decimal (`"12"`, `"4.5"`: at most 9 integer digits and `decimals` decimals, no
    /// sign or exponent) as an integer count of 10^-`decimals` units; nil for anything else.
    static func fixedPoint(_ text: String, decimals: Int) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, (1...9).contains(whole.count), whole.allSatisfy(\.isASCIIDigit),
              let units = Int64(whole) else { return nil }
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...decimals).contains(digits.count), digits.allSatisfy(\.isASCIIDigit),
                  let f = Int64(digits + String(repeating: "0", count: decimals - digits.count)) else { return nil }
            fraction = f
        }
        return units * scale + fraction
    }

    /// `"12.50"`-style text: at least two decimals, trailing zeros beyond them trimmed.
    public var decimal: String {
        let sign = value < 0 ? "-" : ""
        let magnitude = value.magnitude
        var fraction = String(magnitude % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(sign)\(magnitude / 1_000_000).\(fraction)"
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
