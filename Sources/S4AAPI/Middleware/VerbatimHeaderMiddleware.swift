import HTTPTypes
import OpenAPIRuntime

/// The OpenAPI runtime percent-encodes header values (the "simple" style); a `Set-Cookie` or
/// a `Content-Disposition` must go out verbatim, so it is decoded again. Neither value here
/// ever contains '%' of its own (cookie tokens and generated file names).
struct VerbatimHeaderMiddleware: ServerMiddleware {
    static let fields: [HTTPField.Name] = [.setCookie, .contentDisposition]

    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        var (response, body) = try await next(request, body, metadata)
        for name in Self.fields {
            if let value = response.headerFields[name] {
                response.headerFields[name] = value.removingPercentEncoding ?? value
            }
        }
        return (response, body)
    }
}
