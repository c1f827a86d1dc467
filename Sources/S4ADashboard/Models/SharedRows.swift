// Rows and choices that several pages show.

/// One option of a `<select>`.
struct Choice: Sendable {
    var value: String
    var label: String
    var selected: Bool
}

/// A secret as pages show it: its name and version, never its value.
struct SecretRow: Sendable {
    var name: String
    var version: Int
    var updated: String
    /// A project secret that this server's own secret of the same name replaces.
    var overridden: Bool = false
}

/// How much of its cap a server has spent (red once exhausted).
struct SpendBar: Sendable {
    var charged: String
    var budget: String
    var chargedMicros: Int64
    var budgetMicros: Int64
    var exhausted: Bool
}
