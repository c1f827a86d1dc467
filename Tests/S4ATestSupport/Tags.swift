import Foundation
import Testing

/// What a suite needs from the machine beyond the Swift toolchain. `make test-fast` skips
/// these (no root, no runc, no PostgreSQL, no pebble); `make test` runs everything.
extension Tag {
    /// Root and runc: real containers (the runtime, or a control plane built on it).
    @Tag public static var runc: Self
    /// The PostgreSQL server `make test` starts (`S4A_TEST_POSTGRES_URL`).
    @Tag public static var postgres: Self
    /// The pebble ACME test server.
    @Tag public static var pebble: Self
    /// Headless Chromium.
    @Tag public static var browser: Self
}

extension Trait where Self == ConditionTrait {
    /// Runs unless `S4A_SKIP_TAGS` (comma-separated tag names, e.g. `runc,postgres`) names one
    /// of `tags`: this toolchain's `swift test` cannot skip by tag itself. Goes with `.tags(…)`.
    public static func needs(_ tags: Tag...) -> Self {
        let skipped = Set((ProcessInfo.processInfo.environment["S4A_SKIP_TAGS"] ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let names = tags.map { String(describing: $0).trimmingCharacters(in: CharacterSet(charactersIn: ".")) }
        return .enabled(if: skipped.isDisjoint(with: names), "S4A_SKIP_TAGS skips what needs \(names.joined(separator: ", "))")
    }
}
