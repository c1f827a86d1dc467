import Foundation
import S4AContract

/// `text/event-stream` framing: one event, its data a single line of JSON.
enum EventStreamFrame {
    static func encode(event: String, json text: String) -> [UInt8] {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return frame(event, data)
    }

    static func encode<T: Encodable>(event: String, object: T) -> [UInt8] {
        frame(event, (try? JSONEncoder.s4a.encode(object)) ?? Data("{}".utf8))
    }

    /// JSON never holds a raw newline, so the data fits on one `data:` line.
    private static func frame(_ event: String, _ data: Data) -> [UInt8] {
        Array("event: \(event)\ndata: ".utf8) + Array(data) + Array("\n\n".utf8)
    }
}
