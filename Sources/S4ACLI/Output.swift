import Foundation
import S4AContract

/// Tables for people, JSON for machines: every command prints through here.
enum Output {
    static func json<T: Encodable>(_ value: T) throws {
        // The API's own timestamps (RFC 3339 with milliseconds), pretty for reading.
        let encoder = JSONEncoder.s4a
        encoder.outputFormatting.insert(.prettyPrinted)
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// One compact JSON object per line (JSON Lines), for streams.
    static func jsonLine<T: Encodable>(_ value: T) throws {
        FileHandle.standardOutput.write(try JSONEncoder.s4a.encode(value) + Data("\n".utf8))
    }

    static func table(_ headers: [String], _ rows: [[String]]) {
        guard !rows.isEmpty else {
            print("(none)")
            return
        }
        let widths = headers.indices.map { column in
            ([headers[column]] + rows.map { $0[column] }).map(\.count).max() ?? 0
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        print(line(headers.map { $0.uppercased() }))
        for row in rows { print(line(row)) }
    }

    static func date(_ date: Date?) -> String {
        guard let date else { return "-" }
        return date.formatted(Date.ISO8601FormatStyle())
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    }
}
