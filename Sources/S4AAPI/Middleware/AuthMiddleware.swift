import Foundation
import HTTPTypes
import OpenAPIRuntime
import S4ADomain
import S4AWeb

/// Deny by default: every operation's requirement comes from the contract's `x-s4a-scope`;
/// an operation without one is refused. Credentials are a bearer token or the session cookie.
struct AuthMiddleware: ServerMiddleware {
    let requirements: [String: Requirement]
    let authenticator: Authenticator
    /// Where a cookie-authenticated browser request may come from (CSRF defence).
    let origins: OriginPolicy
    /// The operator's token for `operator` operations from off the host; nil: loopback only.
    let operatorToken: String?

    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        guard let requirement = requirements[operationID] else {
            throw DomainError(.forbidden, "This operation declares no access rule.")
        }
        // A link's token is its own credential; any other the request carries is not looked at.
        if requirement == .publicAccess || requirement == .link { return try await next(request, body, metadata) }
        if requirement == .operator {
            // Anyone else gets the answer of an unknown path.
            guard RequestScope.isLoopback || matchesOperatorToken(Self.credentials(in: request)) else {
                throw DomainError.notFound
            }
            return try await next(request, body, metadata)
        }
        guard let (token, viaCookie) = Self.credentials(in: request),
              let principal = try await authenticator.principal(token: token) else {
            throw DomainError.unauthenticated
        }
        if viaCookie, ![.get, .head, .options].contains(request.method) {
            // A cookie rides along on cross-site requests; a bearer header cannot.
            guard origins.allowsCookieWrite(request.headerFields) else {
                throw DomainError(.forbidden, "Cross-site request refused; send the token as a bearer header.")
            }
        }
        try principal.check(requirement)
        return try await RequestScope.$principal.withValue(principal) { try await next(request, body, metadata) }
    }

    func matchesOperatorToken(_ credentials: (token: String, viaCookie: Bool)?) -> Bool {
        guard let expected = operatorToken, let credentials, !credentials.viaCookie else { return false }
        // Compare digests so the time taken says nothing about the token.
        return RandomToken.hash(credentials.token) == RandomToken.hash(expected)
    }

    /// The bearer token if present, else the session cookie.
    static func credentials(in request: HTTPRequest) -> (token: String, viaCookie: Bool)? {
        if let header = request.headerFields[.authorization] {
            let parts = header.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
            return (String(parts[1]).trimmingCharacters(in: .whitespaces), false)
        }
        return SessionCookie.value(in: request.headerFields).map { ($0, true) }
    }
}
