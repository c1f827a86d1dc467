import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import OpenAPIRuntime

/// The generated client's transport straight into the API's own router, for `/mcp`'s tool
/// calls: they pass the same middleware as every request (authentication, scopes, idempotency,
/// problems) without a connection to this process itself, so there is no TLS to self and no
/// trust root to get wrong (an ACME or operator certificate), and each call carries the MCP
/// caller's own address, not loopback.
public final class InProcessTransport: ClientTransport, Sendable {
    private let responder: RouterResponder<S4ARequestContext>
    /// The MCP request's connection and logger: the calls' context is the caller's.
    private let channel: any Channel
    private let logger: Logger
    private let maxBodyBytes: Int
    /// Response bodies still being written, cancelled by `close()` if nobody reads them to the end.
    private let open = NIOLockedValueBox<[ObjectIdentifier: BodyPipe]>([:])

    public init(responder: RouterResponder<S4ARequestContext>, channel: any Channel, logger: Logger, maxBodyBytes: Int) {
        self.responder = responder
        self.channel = channel
        self.logger = logger
        self.maxBodyBytes = maxBodyBytes
    }

    public func send(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String) async throws
        -> (HTTPResponse, HTTPBody?) {
        var head = request
        let prefix = baseURL.path.hasSuffix("/") ? String(baseURL.path.dropLast()) : baseURL.path
        head.path = prefix + (request.path ?? "/")
        if let host = baseURL.host { head.authority = baseURL.port.map { "\(host):\($0)" } ?? host }
        var buffer = ByteBuffer()
        if let body { buffer.writeBytes(try await [UInt8](collecting: body, upTo: maxBodyBytes)) }
        let response = await respond(Request(head: head, body: RequestBody(buffer: buffer)))
        return (HTTPResponse(status: response.status, headerFields: response.headers), stream(response.body))
    }

    /// Stops every body still being written (the tool call that asked for it has returned).
    public func close() {
        let pipes = open.withLockedValue { open in
            defer { open.removeAll() }
            return Array(open.values)
        }
        for pipe in pipes { pipe.cancel() }
    }

    private func respond(_ request: Request) async -> Response {
        do {
            return try await responder.respond(to: request, context: S4ARequestContext(source: .init(channel: channel, logger: logger)))
        } catch {
            // The router's problem middleware answers every error; this is only what escapes it.
            return Response(status: .internalServerError)
        }
    }

    /// The body as the router writes it, handed over one part at a time: the writer waits
    /// for the reader, so a long stream (a run's output) never piles up in memory.
    private func stream(_ body: ResponseBody) -> HTTPBody {
        let pipe = BodyPipe()
        let key = ObjectIdentifier(pipe)
        open.withLockedValue { $0[key] = pipe }
        Task { [open] in
            do {
                try await body.write(PipeWriter(pipe: pipe))
            } catch {
                pipe.finish(error)
            }
            open.withLockedValue { _ = $0.removeValue(forKey: key) }
        }
        let length: HTTPBody.Length = body.contentLength.map { .known(Int64($0)) } ?? .unknown
        return HTTPBody(ReadOnce(pipe: pipe), length: length, iterationBehavior: .single)
    }

    private struct PipeWriter: ResponseBodyWriter {
        let pipe: BodyPipe
        mutating func write(_ buffer: ByteBuffer) async throws { try await pipe.send(buffer) }
        consuming func finish(_ trailingHeaders: HTTPFields?) async throws { pipe.finish() }
    }

    /// Reads the pipe as `ArraySlice<UInt8>`s; a reader that goes away before the end cancels the writer.
    private struct ReadOnce: AsyncSequence, Sendable {
        typealias Element = ArraySlice<UInt8>
        let pipe: BodyPipe

        final class AsyncIterator: AsyncIteratorProtocol {
            let pipe: BodyPipe
            init(pipe: BodyPipe) { self.pipe = pipe }
            deinit { pipe.cancel() }
            func next() async throws -> ArraySlice<UInt8>? {
                try await pipe.receive().map { ArraySlice($0.readableBytesView) }
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pipe: pipe) }
    }
}
