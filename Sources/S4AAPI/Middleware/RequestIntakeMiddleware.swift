import Hummingbird
import NIOCore
import S4ADomain

/// Bounds the request body (413 past the limit) and records the peer address for the layers
/// that cannot see the connection. The body is not read here: it streams to whoever reads it,
/// after authentication and authorisation have looked at the head, so an unauthenticated
/// upload is refused without being buffered (what is left unread is discarded as it arrives).
/// File uploads (PUT of a file or an archive) may be larger than API bodies.
public struct RequestIntakeMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let maxBodyBytes: Int
    let maxUploadBytes: Int

    public init(maxBodyBytes: Int, maxUploadBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxUploadBytes = maxUploadBytes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let path = request.uri.path
        let isUpload = request.method == .put && path.hasPrefix("/v1/servers/")
            && (path.contains("/files/") || path.hasSuffix("/archive"))
        let maxBodyBytes = isUpload ? maxUploadBytes : self.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw DomainError(.payloadTooLarge, "The request body is over \(maxBodyBytes) bytes.")
        }
        request.body = RequestBody(asyncSequence: BoundedBody(base: request.body, limit: maxBodyBytes))
        let address = context.remoteAddress?.ipAddress
        return try await RequestScope.$clientAddress.withValue(address) { try await next(request, context) }
    }
}

/// A request body that throws 413 once more than `limit` bytes have come (a chunked body
/// declares no length up front).
struct BoundedBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let limit: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int
        var seen = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await base.next() else { return nil }
            seen += buffer.readableBytes
            guard seen <= limit else { throw DomainError(.payloadTooLarge, "The request body is over \(limit) bytes.") }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), limit: limit) }
}
