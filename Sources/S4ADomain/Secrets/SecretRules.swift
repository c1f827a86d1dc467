import Foundation

/// What a secret's name and value may be (the contract states the same: its SecretName and
/// SecretValue schemas). Breaking a rule is an invalid request (400), as everywhere.
public enum SecretRules {
    public static let maxNameLength = 128
    public static let maxValueBytes = 64 << 10
    public static let maxProjectBytes = 256 << 10
    /// Values shorter than this are not masked in output (too likely to occur by chance).
    public static let minMaskedLength = 4

    /// `[A-Z_][A-Z0-9_]*`, at most 128 characters, not reserved.
    public static func check(name: String) throws {
        guard let first = name.unicodeScalars.first, name.count <= maxNameLength,
              first == "_" || ("A"..."Z").contains(first),
              name.unicodeScalars.allSatisfy({ $0 == "_" || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }) else {
            throw DomainError.invalid("name", "must match [A-Z_][A-Z0-9_]* and be at most 128 characters")
        }
        guard !["PORT", "PATH", "HOME"].contains(name), !name.hasPrefix("S4A_") else {
            throw DomainError.invalid("name", "\(name) is reserved (PORT, PATH, HOME and S4A_* are the platform's)")
        }
    }

    public static func check(value: String) throws {
        guard value.utf8.count <= maxValueBytes else {
            throw DomainError.invalid("value", "must be at most 64 KiB")
        }
    }
}

/// Replaces every occurrence of the given values (4 characters or longer) with `***`, as CI
/// systems mask secrets in logs. Longest first, so a value containing another is masked whole.
public struct SecretMasker: Sendable {
    public let values: [String]

    public init(_ values: some Sequence<String>) {
        self.values = Set(values.filter { $0.count >= SecretRules.minMaskedLength }).sorted { $0.count > $1.count }
    }

    public var isEmpty: Bool { values.isEmpty }

    public func mask(_ text: String) -> String {
        guard !values.isEmpty else { return text }
        var result = text
        for value in values where result.contains(value) {
            result = result.replacingOccurrences(of: value, with: "***")
        }
        return result
    }

    /// The longest value in bytes: a stream masker holds back this many bytes less one.
    public var longestBytes: Int { values.map(\.utf8.count).max() ?? 0 }
}

extension SecretMasker {
    /// Masks raw bytes (output that may not be UTF-8 throughout).
    public func mask(bytes: [UInt8]) -> [UInt8] {
        guard !values.isEmpty else { return bytes }
        var result = bytes
        for value in values {
            let needle = Array(value.utf8)
            guard result.count >= needle.count else { continue }
            var output: [UInt8] = []
            output.reserveCapacity(result.count)
            var index = 0
            while index < result.count {
                if index + needle.count <= result.count, result[index] == needle[0],
                   result[index..<(index + needle.count)].elementsEqual(needle) {
                    output += Array("***".utf8)
                    index += needle.count
                } else {
                    output.append(result[index])
                    index += 1
                }
            }
            result = output
        }
        return result
    }
}

/// Masks a stream piece by piece: a value split across two pieces is still masked, because
/// the last (longest value − 1) bytes wait for the next piece (or `finish`).
public final class StreamMasker: @unchecked Sendable {
    private let masker: SecretMasker
    private let lock = NSLock()
    private var pending: [UInt8] = []

    public init(_ masker: SecretMasker) { self.masker = masker }

    /// What may be shown of the output so far.
    public func feed(_ bytes: [UInt8]) -> [UInt8] {
        guard !masker.isEmpty else { return bytes }
        return lock.withLock {
            let masked = masker.mask(bytes: pending + bytes)
            let keep = min(masked.count, masker.longestBytes - 1)
            pending = Array(masked.suffix(keep))
            return Array(masked.dropLast(keep))
        }
    }

    /// The rest, at the end of the stream.
    public func finish() -> [UInt8] {
        lock.withLock {
            defer { pending = [] }
            return masker.mask(bytes: pending)
        }
    }
}
