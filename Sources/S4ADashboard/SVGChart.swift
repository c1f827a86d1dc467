import Foundation

/// A small line chart drawn on the server as SVG markup (no script, no external image). Only
/// numbers and the caller's fixed labels enter the markup; labels are escaped anyway.
struct SVGChart {
    var title: String
    var values: [Double]
    /// Formats the largest value for the axis label.
    var format: (Double) -> String
    var width = 600.0
    var height = 120.0

    var svg: String {
        let label = Self.escape(title)
        guard values.count >= 2 else {
            return "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) 28\" role=\"img\" aria-label=\"\(label): no data yet\">"
                + "<text x=\"8\" y=\"18\">\(label): no data yet</text></svg>"
        }
        let top = max(values.max() ?? 0, 1e-9)
        let plotTop = 24.0, plotHeight = height - plotTop - 4
        let step = width / Double(values.count - 1)
        let points = values.enumerated().map { index, value in
            String(format: "%.1f,%.1f", Double(index) * step, plotTop + plotHeight * (1 - value / top))
        }.joined(separator: " ")
        let area = "0,\(height - 4) " + points + " \(width),\(height - 4)"
        return "<svg class=\"chart\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(label)\">"
            + "<polygon class=\"area\" points=\"\(area)\"/>"
            + "<polyline class=\"line\" points=\"\(points)\"/>"
            + "<text x=\"8\" y=\"16\">\(label) · max \(Self.escape(format(top)))</text></svg>"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
