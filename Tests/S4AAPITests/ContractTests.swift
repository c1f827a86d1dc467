import Foundation
import HTTPTypes
import Hummingbird
@testable import S4AAPI
import S4AContract
@testable import S4AServer
import S4ATestSupport
import Testing

@Suite(.tags(.runc), .needs(.runc)) struct ContractTests {
    /// Every route the server answers is in the document, and every documented operation is routed.
    @Test func routesMatchTheDocument() async throws {
        let test = try await TestPlane.make()
        let router = try test.plane.router()
        func normalize(_ path: String) -> String {
            path.split(separator: "/").map { $0.hasPrefix(":") || $0.hasPrefix("{") ? "{}" : String($0) }.joined(separator: "/")
        }
        let served = Set(router.routes.map { "\($0.method.rawValue) /\(normalize($0.path.description))" })
        let documented = Set(test.plane.document.operations.map { "\($0.method) /\(normalize($0.path))" })
        #expect(!served.isEmpty)
        #expect(served == documented)
        // Deny by default: every documented operation declares its requirement.
        #expect(Set(test.plane.document.requirements.keys) == Set(test.plane.document.operations.map(\.operationID)))
        await test.close()
    }

    /// Times go out with the very millisecond stored (a formatter would truncate the double).
    @Test func timestampsKeepTheirMillisecond() throws {
        let transcoder = RFC3339DateTranscoder()
        for millis in Int64(1_795_794_201_000)..<1_795_794_202_000 {
            let date = Date(timeIntervalSince1970: Double(millis) / 1000)
            let text = try transcoder.encode(date)
            #expect(text == "2026-11-27T15:43:21" + String(format: ".%03dZ", Int(millis % 1000)))
            #expect(Int64((try transcoder.decode(text).timeIntervalSince1970 * 1000).rounded()) == millis)
        }
    }

    @Test func theDocumentIsServedAsJSON() async throws {
        try await TestPlane.make().withClient { client in
            let answer = try await client.call(.get, "/v1/openapi.json")
            #expect(answer.status == 200)
            #expect(answer["openapi"] as? String == "3.1.0")
            #expect((answer["paths"] as? [String: Any])?["/v1/projects"] != nil)
        }
    }

    @Test func unknownRoutesAndMethodsAreProblems() async throws {
        try await TestPlane.make().withClient { client in
            let missing = try await client.call(.get, "/v1/nothing-here")
            #expect(missing.status == 404)
            #expect(missing.headers[.contentType] == "application/problem+json")
            #expect(missing.headers[.strictTransportSecurity] != nil)
            let method = try await client.call(.put, "/v1/projects")
            #expect([404, 405].contains(method.status))
            #expect(method.headers[.contentType] == "application/problem+json")
        }
    }

    @Test func oversizeBodiesAre413AndWriteNothing() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let huge = "{\"name\": \"" + String(repeating: "x", count: (1 << 20) + 10) + "\"}"
            let answer = try await client.call(.post, "/v1/projects", token: session, body: huge)
            #expect(answer.status == 413)
            #expect(answer.problemType == "urn:s4a:problem:payload-too-large")
            #expect(try await client.call(.get, "/v1/projects", token: session).items.isEmpty)
        }
    }

    @Test func idempotencyKeyReplaysAndRefusesAnotherBody() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let headers = ["Idempotency-Key": "create-shop-1"]
            let first = try await client.call(.post, "/v1/projects", token: session, body: ["name": "Shop"], headers: headers)
            let again = try await client.call(.post, "/v1/projects", token: session, body: ["name": "Shop"], headers: headers)
            #expect(first.status == 201)
            #expect(again.status == 201)
            #expect(again.body == first.body)
            #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let other = try await client.call(.post, "/v1/projects", token: session, body: ["name": "Other"], headers: headers)
            #expect(other.status == 422)
            #expect(other.problemType == "urn:s4a:problem:idempotency-key-reused")
            #expect(try await client.call(.get, "/v1/projects", token: session).items.count == 1)
            // Keys are per caller: another account's identical key is independent.
            let bob = try await client.signUp()
            let bobs = try await client.call(.post, "/v1/projects", token: bob, body: ["name": "Shop"], headers: headers)
            #expect(bobs.status == 201)
            #expect(bobs["id"] as? String != first["id"] as? String)
        }
    }

    @Test func replayedKeyCreationShowsTheTokenButTheStoreHoldsNone() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let body: [String: Any] = ["name": "agent", "scopes": ["projects:read"]]
            let first = try await client.call(.post, "/v1/api-keys", token: session, body: body, headers: ["Idempotency-Key": "k1"])
            let again = try await client.call(.post, "/v1/api-keys", token: session, body: body, headers: ["Idempotency-Key": "k1"])
            #expect(again.body == first.body)
            let token = try #require(first["token"] as? String)
            // No table row anywhere contains the token.
            let found = try await test.plane.store.withDatabase { db in
                var hits = 0
                for table in ["api_keys", "idempotency_records", "activity_events", "sessions"] {
                    for row in try await db.raw("SELECT * FROM \(unsafeRaw: table)").all() {
                        for column in row.allColumns {
                            if let text = try? row.decode(column: column, as: String.self), text.contains(token) { hits += 1 }
                        }
                    }
                }
                return hits
            }
            #expect(found == 0)
        }
    }

    @Test func metricsAreForTheOperatorOnly() async throws {
        try await TestPlane.make { $0.metricsToken = "operator-secret-token" }.withClient { client in
            // The in-process client has no loopback peer address: like a remote scraper.
            let anonymous = try await client.call(.get, "/metrics")
            let unknown = try await client.call(.get, "/v1/nothing-here")
            #expect(anonymous.status == 404)
            #expect(anonymous.body == unknown.body)
            let wrong = try await client.call(.get, "/metrics", token: "not-it")
            #expect(wrong.status == 404)
            let allowed = try await client.call(.get, "/metrics", token: "operator-secret-token")
            #expect(allowed.status == 200)
            #expect(allowed.body.contains("hb_request"))
        }
    }

    @Test func healthNeedsNoCredentials() async throws {
        try await TestPlane.make().withClient { client in
            let health = try await client.call(.get, "/healthz")
            #expect(health.status == 200)
            #expect(health["status"] as? String == "ok")
        }
    }
}
