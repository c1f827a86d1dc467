import Foundation
import OpenAPIRuntime
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

    /// Writes a streamed download to `path` (made 0600: an export holds the account's data) as it
    /// arrives, or to standard output for nil or `-`. One cut short leaves no partial file: a
    /// download is whole or absent. Returns how many bytes were written.
    static func save(_ body: HTTPBody, to path: String?) async throws -> Int {
        guard let path, path != "-" else {
            var bytes = 0
            for try await chunk in body {
                try FileHandle.standardOutput.write(contentsOf: Data(chunk))
                bytes += chunk.count
            }
            return bytes
        }
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let file = FileHandle(forWritingAtPath: path) else {
            throw CommandFailure(message: "Cannot write \(path).")
        }
        var bytes = 0
        do {
            for try await chunk in body {
                try file.write(contentsOf: Data(chunk))
                bytes += chunk.count
            }
            try file.close()
        } catch {
            try? file.close()
            try? FileManager.default.removeItem(atPath: path)
            throw error
        }
        return bytes
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
