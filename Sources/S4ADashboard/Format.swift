import Foundation
import S4ADomain

/// How the pages write times, money and sizes.
enum Format {
    static func time(_ date: Date?) -> String {
        guard let date else { return "—" }
        return date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).year().month().day().dateTimeSeparator(.space)
            .time(includingFractionalSeconds: false))
    }

    static func money(_ amount: MicroDollars) -> String {
        // Whole cents when exact, else every micro-dollar: never rounded up or down silently.
        let text = amount.decimal
        guard let dot = text.firstIndex(of: ".") else { return "$" + text + ".00" }
        var fraction = String(text[text.index(after: dot)...])
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        while fraction.count < 2 { fraction += "0" }
        return "$" + text[..<dot] + "." + fraction
    }

    static func bytes(_ count: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(count), unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
    }

    static func percent(_ ratio: Double?) -> String {
        guard let ratio else { return "no probes" }
        return String(format: "%.2f%%", ratio * 100)
    }
}
