import Foundation
import OpenAPIRuntime
import S4AContract

/// `text/event-stream` answers, framed by swift-openapi-runtime's encoder (the one the CLI
/// decodes with): each event's data is one JSON value, in the contract's encoding.
enum EventStream {
    static func event(_ name: String, _ value: some Encodable) -> ServerSentEvent {
        let data = (try? JSONEncoder.s4a.encode(value)) ?? Data("null".utf8)
        return ServerSentEvent(event: name, data: String(decoding: data, as: UTF8.self))
    }

    static func body<Events: AsyncSequence & Sendable>(_ events: Events) -> HTTPBody where Events.Element == ServerSentEvent {
        HTTPBody(events.asEncodedServerSentEvents(), length: .unknown, iterationBehavior: .single)
    }
}
