import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import S4ADomain
import S4AWeb
import Testing

/// A domain error is an HTTP answer only at the web boundary: its kind's status, and
/// problem+json wherever it is thrown, with or without the problem middleware.
@Suite struct DomainErrorHTTPTests {
    @Test func everyKindHasAnErrorStatus() {
        let kinds: [DomainError.Kind] = [
            .invalidRequest, .unauthenticated, .invalidCredentials, .forbidden, .insufficientScope, .notFound, .gone,
            .conflict, .slugTaken, .idempotencyMismatch, .idempotencyInProgress, .throttled, .payloadTooLarge,
            .unprocessable, .serverNotRunning, .upgradeRequired, .runtimeFailed, .appNotAnswering, .confirmationRequired,
        ]
        for kind in kinds { #expect((400...599).contains(kind.httpStatus), "\(kind)") }
        #expect(DomainError.Kind.notFound.httpStatus == 404)
        #expect(DomainError.Kind.throttled.httpStatus == 429)
        #expect(DomainError.notFound.status == .notFound)
    }

    /// Thrown past a router with no middleware at all, Hummingbird renders it (HTTPResponseError).
    @Test func aThrownDomainErrorIsAProblem() async throws {
        let router = Router()
        router.get("/slow") { _, _ -> String in throw DomainError(.throttled, "Too many attempts.", retryAfter: 30) }
        router.get("/who") { _, _ -> String in throw DomainError.unauthenticated }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/slow", method: .get) { response in
                #expect(response.status == .tooManyRequests)
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(response.headers[.retryAfter] == "30")
                let body = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any]
                #expect(body?["type"] as? String == "urn:s4a:problem:throttled")
                #expect(body?["status"] as? Int == 429)
                #expect(body?["title"] as? String == "Too Many Requests")
                #expect(body?["detail"] as? String == "Too many attempts.")
            }
            try await client.execute(uri: "/who", method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
        }
    }

    /// Behind the problem middleware: the same body, and the security headers on it.
    @Test func theProblemMiddlewareAddsTheSecurityHeaders() async throws {
        let router = Router()
        router.add(middleware: ProblemMiddleware())
        router.get("/gone") { _, _ -> String in throw DomainError(.gone, "That link was used.") }
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/gone", method: .get) { response in
                #expect(response.status == .gone)
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(response.headers[.strictTransportSecurity] == "max-age=31536000")
                #expect(response.headers[.xContentTypeOptions] == "nosniff")
                #expect(response.headers[.cacheControl] == "no-store")
                #expect(String(buffer: response.body)
                        == #"{"detail":"That link was used.","status":410,"title":"Gone","type":"urn:s4a:problem:gone"}"#)
            }
        }
    }
}
