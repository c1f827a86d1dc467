import Foundation
import S4ADomain

/// An `application/x-www-form-urlencoded` body: the last value of each name, and every value
/// of names that repeat (checkboxes).
struct FormData: Sendable {
    private(set) var pairs: [(String, String)] = []

    init(urlEncoded text: String) {
        for part in text.split(separator: "&") {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(kv[0]) else { continue }
            pairs.append((name, kv.count > 1 ? Self.decode(kv[1]) ?? "" : ""))
        }
    }

    init(pairs: [(String, String)]) { self.pairs = pairs }

    subscript(name: String) -> String? { pairs.last { $0.0 == name }?.1 }

    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    /// A trimmed, non-empty value.
    func text(_ name: String) -> String? {
        guard let value = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// Dollars, as the API takes them (`25`, `25.00`, at most six decimals); nil when left empty.
    func money(_ name: String) throws -> MicroDollars? {
        guard let text = text(name) else { return nil }
        guard let amount = MicroDollars(decimal: text) else {
            throw DomainError.invalid(name, "must be dollars with at most six decimals, e.g. 25.00")
        }
        return amount
    }

    /// A whole number; nil when left empty.
    func integer(_ name: String) throws -> Int? {
        guard let text = text(name) else { return nil }
        guard let number = Int(text) else { throw DomainError.invalid(name, "must be a whole number") }
        return number
    }

    private static func decode(_ raw: Substring) -> String? {
        raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
