import ArgumentParser
import Foundation
import OpenAPIRuntime
import S4AContract

/// A time on the command line: RFC 3339 (`2026-11-27T10:00:00Z`) or a duration ago (`90s`,
/// `10m`, `6h`, `7d`), as `--since` and `--until` take it.
enum TimeArgument {
    static func parse(_ text: String?, _ option: String, now: Date = Date()) throws -> Date? {
        guard let text else { return nil }
        if let seconds = UsageCommand.seconds(text), text.last.map({ !$0.isNumber }) ?? false {
            return now.addingTimeInterval(-seconds)
        }
        guard let date = try? RFC3339DateTranscoder().decode(text) else {
            throw ValidationError("--\(option) takes a time (2026-11-27T10:00:00Z) or a duration ago (10m, 6h, 7d)")
        }
        return date
    }
}
