import Foundation

/// Email addresses are compared case-insensitively after trimming.
public enum Email {
    public static func normalize(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// A deliberately loose check: one '@', something on both sides, a dot in the domain.
    public static func isPlausible(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), email.count <= 254 else { return false }
        return !email.contains(where: { $0.isWhitespace })
    }
}
