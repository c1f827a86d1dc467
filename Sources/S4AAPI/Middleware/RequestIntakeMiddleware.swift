import Hummingbird
import NIOCore
import S4ADomain

/// Bounds the request body (413 past the limit, before any handler reads it) and records the
/// peer address for the layers that cannot see the connection. File uploads (PUT of a file
/// or an archive) may be larger than API bodies.
struct RequestIntakeMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let maxBodyBytes: Int
    let maxUploadBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let path = request.uri.path
        let isUpload = request.method == .put && path.hasPrefix("/v1/servers/")
            && (path.contains("/files/") || path.hasSuffix("/archive"))
        let maxBodyBytes = isUpload ? maxUploadBytes : self.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw DomainError(.payloadTooLarge, "The request body is over \(maxBodyBytes) bytes.")
        }
        do {
            _ = try await request.collectBody(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw DomainError(.payloadTooLarge, "The request body is over \(maxBodyBytes) bytes.")
        }
        let address = context.remoteAddress?.ipAddress
        return try await RequestScope.$clientAddress.withValue(address) { try await next(request, context) }
    }
}
