import HTTPTypes
import OpenAPIRuntime

/// The OpenAPI runtime percent-encodes header values (the "simple" style); a `Set-Cookie`
/// must go out verbatim, so it is decoded again. Cookie values here never contain '%'.
struct CookieHeaderMiddleware: ServerMiddleware {
    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        var (response, body) = try await next(request, body, metadata)
        if let cookie = response.headerFields[.setCookie] {
            response.headerFields[.setCookie] = cookie.removingPercentEncoding ?? cookie
        }
        return (response, body)
    }
}
