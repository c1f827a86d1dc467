import Foundation
import OpenAPIRuntime

/// RFC 3339 UTC timestamps: written with milliseconds, read with or without fractions.
public struct RFC3339DateTranscoder: DateTranscoder {
    public init() {}

    /// The millisecond the store keeps, exactly: a formatter's fraction truncates the binary
    /// double (41.194 s printed as 41.193 half the time), which shifted times by 1 ms and
    /// broke recomputing an activity hash from the API's `at`.
    public func encode(_ date: Date) throws -> String {
        // Years 1…9999, what RFC 3339 can write: a time out of range (or not a number) never traps.
        let raw = (date.timeIntervalSince1970 * 1000).rounded()
        let millis = raw.isFinite ? Int64(min(max(raw, -62_135_769_600_000), 253_402_300_799_999)) : 0
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(Date.ISO8601FormatStyle())
        return String(whole.dropLast()) + String(format: ".%03dZ", Int(millis - seconds * 1000))
    }

    public func decode(_ text: String) throws -> Date {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(text) is not an RFC 3339 timestamp"))
    }
}

extension Configuration {
    /// The runtime configuration shared by server and client.
    public static var s4a: Configuration {
        Configuration(dateTranscoder: RFC3339DateTranscoder(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
    }
}

extension JSONEncoder {
    /// For JSON the generated code does not write (event-stream data): the same timestamps.
    public static var s4a: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(try RFC3339DateTranscoder().encode(date))
        }
        return encoder
    }
}

extension JSONDecoder {
    /// For JSON the generated code does not read (event-stream data).
    public static var s4a: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            try RFC3339DateTranscoder().decode(try decoder.singleValueContainer().decode(String.self))
        }
        return decoder
    }
}
