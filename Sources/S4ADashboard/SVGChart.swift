import Foundation

/// A small line chart drawn on the server as SVG markup (no script, no external image). Only
/// numbers and the caller's fixed labels enter the markup; labels are escaped anyway.
/// Honest by construction: points sit at their time on an axis spanning the whole window
/// (gaps show as gaps in time), the scale runs from zero to a round number at or above the
/// largest value and is written on the chart, and "no data" means no point at all.
struct SVGChart {
    var title: String
    var points: [(at: Date, value: Double)]
    var since: Date
    var until: Date
    /// Formats a value of the scale (its top).
    var format: (Double) -> String
    var width = 600.0
    var height = 140.0

    static let left = 8.0, plotTop = 24.0, axisHeight = 20.0

    var svg: String {
        let label = Self.escape(title)
        guard !points.isEmpty else {
            return "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) 28\" role=\"img\" aria-label=\"\(label): no data\">"
                + "<text x=\"8\" y=\"18\">\(label): no data in this window</text></svg>"
        }
        let top = Self.roundUp(points.map(\.value).max() ?? 0)
        let right = width - Self.left, bottom = height - Self.axisHeight
        let span = max(until.timeIntervalSince(since), 1)
        func x(_ date: Date) -> Double {
            Self.left + (right - Self.left) * min(max(date.timeIntervalSince(since) / span, 0), 1)
        }
        func y(_ value: Double) -> Double { bottom - (bottom - Self.plotTop) * min(max(value / top, 0), 1) }
        let coordinates = points.map { String(format: "%.1f,%.1f", x($0.at), y($0.value)) }
        var marks = ""
        if points.count == 1 {
            marks = String(format: "<circle class=\"dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"/>", x(points[0].at), y(points[0].value))
        } else {
            let area = String(format: "%.1f,%.1f ", x(points[0].at), bottom) + coordinates.joined(separator: " ")
                + String(format: " %.1f,%.1f", x(points[points.count - 1].at), bottom)
            marks = "<polygon class=\"area\" points=\"\(area)\"/>"
                + "<polyline class=\"line\" points=\"\(coordinates.joined(separator: " "))\"/>"
        }
        // The time axis: the window's start, middle and end (UTC).
        let middle = since.addingTimeInterval(span / 2)
        let ticks = [(since, Self.left, "start"), (middle, (Self.left + right) / 2, "middle"), (until, right, "end")]
            .map { date, position, anchor in
                String(format: "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"%@\">", position, height - 5, anchor)
                    + Self.escape(Self.clock(date)) + "</text>"
            }.joined()
        return "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(label)\">"
            + String(format: "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", Self.left, bottom, right, bottom)
            + marks + ticks
            + "<text x=\"8\" y=\"16\">\(label) · scale 0 to \(Self.escape(format(top))) · UTC</text></svg>"
    }

    /// The smallest of 1, 2 or 5 times a power of ten that is at least `value` (1 for nothing).
    static func roundUp(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2, 5, 10] where step * power >= value * (1 - 1e-12) { return step * power }
        return 10 * power
    }

    static func clock(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt).time(includingFractionalSeconds: false))
            .split(separator: ":").prefix(2).joined(separator: ":")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
