import Foundation
import S4AServer
import S4ATestSupport
import Testing

@Suite(.tags(.runc), .needs(.runc)) struct KeyRouteTests {
    @Test func tokenIsShownOnceAndNeverListed() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let key = try await client.createKey(session, scopes: ["projects:read"])
            #expect(key.token.hasPrefix("s4a_"))
            #expect(key.token.count >= 4 + 43)
            let list = try await client.call(.get, "/v1/api-keys", token: session)
            #expect(list.status == 200)
            #expect(!list.body.contains(key.token))
            #expect(!list.body.contains(String(key.token.dropFirst(12))))
            let listed = try #require(list.items.first)
            #expect(listed["prefix"] as? String == String(key.token.prefix(12)))
            #expect(listed["token"] == nil)
            #expect(listed["token_hash"] == nil)
            // The key works as a bearer token and records its use.
            #expect(try await client.call(.get, "/v1/projects", token: key.token).status == 200)
            let after = try await client.call(.get, "/v1/api-keys", token: session).items.first
            #expect(after?["last_used_at"] != nil)
        }
    }

    @Test func currentCredentialDescribesTheKeyWithoutItsToken() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let key = try await client.createKey(session, scopes: ["servers:read", "projects:read"],
                                                 extra: ["max_server_budget_usd": "2.50"])
            let answer = try await client.call(.get, "/v1/api-keys/current", token: key.token)
            #expect(answer.status == 200)
            #expect(answer["type"] as? String == "api_key")
            #expect(answer["scopes"] as? [String] == ["projects:read", "servers:read"])
            let described = try #require(answer["key"] as? [String: Any])
            #expect(described["id"] as? String == key.id)
            #expect(described["max_server_budget_usd"] as? String == "2.50")
            #expect(!answer.body.contains(String(key.token.dropFirst(12))))
            let asSession = try await client.call(.get, "/v1/api-keys/current", token: session)
            #expect(asSession["type"] as? String == "session")
            #expect((asSession["scopes"] as? [String])?.count == 10)
            #expect(asSession["key"] == nil)
            #expect(try await client.call(.get, "/v1/api-keys/current").status == 401)
        }
    }

    @Test func revokedKeyFailsOnItsNextRequest() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let key = try await client.createKey(session, scopes: ["projects:read"])
            #expect(try await client.call(.get, "/v1/projects", token: key.token).status == 200)
            #expect(try await client.call(.delete, "/v1/api-keys/\(key.id)", token: session).status == 204)
            let next = try await client.call(.get, "/v1/projects", token: key.token)
            #expect(next.status == 401)
            #expect(next.problemType == "urn:s4a:problem:unauthenticated")
        }
    }

    @Test func expiredKeyFails() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let expiry = Date().addingTimeInterval(3600).formatted(.iso8601)
            let key = try await client.createKey(session, scopes: ["projects:read"], extra: ["expires_at": expiry])
            #expect(try await client.call(.get, "/v1/projects", token: key.token).status == 200)
            // Past the expiry whatever time the test took to get here.
            test.clock.advance(3600 + Date().timeIntervalSince(test.clock.now) + 5)
            #expect(try await client.call(.get, "/v1/projects", token: key.token).status == 401)
            let past = try await client.call(.post, "/v1/api-keys", token: session,
                                             body: ["name": "old", "scopes": ["projects:read"], "expires_at": "2000-01-01T00:00:00Z"])
            #expect(past.status == 400)
        }
    }

    @Test func missingScopeIsForbidden() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let reader = try await client.createKey(session, scopes: ["projects:read"])
            let write = try await client.call(.post, "/v1/projects", token: reader.token, body: ["name": "x"])
            #expect(write.status == 403)
            #expect(write.problemType == "urn:s4a:problem:insufficient-scope")
            #expect(try await client.call(.get, "/v1/activity", token: reader.token).status == 403)
            #expect(try await client.call(.get, "/v1/api-keys", token: reader.token).status == 403)
            // Session-only operations refuse every key.
            let all = try await client.createKey(session, scopes: ["projects:read", "keys:write", "activity:read"])
            let change = try await client.call(.put, "/v1/account/password", token: all.token,
                                               body: ["current_password": "correct horse battery", "new_password": "another long password"])
            #expect(change.status == 403)
            #expect(try await client.call(.get, "/v1/projects", token: "s4a_notARealToken").status == 401)
            #expect(try await client.call(.get, "/v1/projects").status == 401)
        }
    }

    @Test func projectRestrictedKeySeesOnlyItsProjects() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let mine = try #require(try await client.createProject(session, name: "Mine")["id"] as? String)
            let other = try #require(try await client.createProject(session, name: "Other")["id"] as? String)
            let key = try await client.createKey(session, scopes: ["projects:read", "projects:write", "projects:publish", "activity:read"],
                                                 extra: ["project_ids": [mine]])
            #expect(try await client.call(.get, "/v1/projects/\(mine)", token: key.token).status == 200)
            let hidden = try await client.call(.get, "/v1/projects/\(other)", token: key.token)
            let missing = try await client.call(.get, "/v1/projects/prj_doesnotexist", token: key.token)
            #expect(hidden.status == 404)
            #expect(hidden.body == missing.body)
            #expect(try await client.call(.patch, "/v1/projects/\(other)", token: key.token, body: ["name": "z"]).status == 404)
            #expect(try await client.call(.delete, "/v1/projects/\(other)", token: key.token).status == 404)
            let list = try await client.call(.get, "/v1/projects", token: key.token)
            #expect(list.items.map { $0["id"] as? String } == [mine])
            let feed = try await client.activity(key.token)
            #expect(!feed.isEmpty)
            #expect(feed.allSatisfy { $0["project_id"] as? String == mine })
            #expect(try await client.call(.get, "/v1/activity?project_id=\(other)", token: key.token).status == 404)
            // It cannot create projects outside its list either.
            #expect(try await client.call(.post, "/v1/projects", token: key.token, body: ["name": "n"]).status == 403)
        }
    }

    @Test func keysCannotCreateStrongerKeys() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let expiry = Date().addingTimeInterval(3600)
            let parent = try await client.createKey(session, scopes: ["keys:write", "projects:read"], extra: [
                "project_ids": [project], "expires_at": expiry.formatted(.iso8601), "max_server_budget_usd": "10.00",
            ])
            func attempt(_ body: [String: Any]) async throws -> Answer {
                var full: [String: Any] = ["name": "child", "scopes": ["projects:read"]]
                full.merge(body) { $1 }
                return try await client.call(.post, "/v1/api-keys", token: parent.token, body: full)
            }
            #expect(try await attempt(["scopes": ["projects:read", "projects:write"]]).status == 403)
            #expect(try await attempt(["project_ids": ["prj_other"]]).status == 403)
            #expect(try await attempt(["expires_at": expiry.addingTimeInterval(60).formatted(.iso8601)]).status == 403)
            #expect(try await attempt(["max_server_budget_usd": "10.01"]).status == 403)
            // Left open, the child inherits the parent's bounds.
            let child = try await attempt([:])
            #expect(child.status == 201, "\(child.body)")
            let key = try #require(child["key"] as? [String: Any])
            #expect(key["project_ids"] as? [String] == [project])
            #expect(key["max_server_budget_usd"] as? String == "10.00")
            #expect(key["expires_at"] != nil)
            let keys = try await client.call(.get, "/v1/api-keys", token: session).items
            #expect(keys.count == 2, "refused attempts wrote nothing")
        }
    }

    @Test func budgetCeilingsAcceptDecimalStringsAndNumbers() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            for (input, stored) in [("25" as Any, "25.00"), (12.5 as Any, "12.50"), ("0.000001" as Any, "0.000001"), (3 as Any, "3.00")] {
                let answer = try await client.call(.post, "/v1/api-keys", token: session,
                                                   body: ["name": "k", "scopes": ["projects:read"], "max_server_budget_usd": input])
                #expect(answer.status == 201, "\(input): \(answer.body)")
                #expect((answer["key"] as? [String: Any])?["max_server_budget_usd"] as? String == stored)
            }
        }
    }

    @Test func aKeyRevokesOnlyItselfAndItsChildren() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let sibling = try await client.createKey(session, scopes: ["projects:read"])
            let parent = try await client.createKey(session, scopes: ["keys:write", "projects:read"])
            let child = try await client.createKey(parent.token, scopes: ["projects:read"])
            #expect(try await client.call(.delete, "/v1/api-keys/\(sibling.id)", token: parent.token).status == 404)
            #expect(try await client.call(.delete, "/v1/api-keys/\(child.id)", token: parent.token).status == 204)
            #expect(try await client.call(.get, "/v1/projects", token: child.token).status == 401)
            #expect(try await client.call(.get, "/v1/projects", token: sibling.token).status == 200)
            #expect(try await client.call(.delete, "/v1/api-keys/\(parent.id)", token: parent.token).status == 204)
            #expect(try await client.call(.get, "/v1/projects", token: parent.token).status == 401)
        }
    }

    @Test func badKeyRequestsWriteNothing() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let bad: [Any] = [
                ["name": "k", "scopes": ["root:all"]],
                ["name": "k", "scopes": []],
                ["name": "", "scopes": ["projects:read"]],
                ["name": "k", "scopes": ["projects:read"], "max_server_budget_usd": "1e3"],
                ["name": "k", "scopes": ["projects:read"], "max_server_budget_usd": 5.1234567],
                ["name": "k", "scopes": ["projects:read"], "max_server_budget_usd": -5],
                ["name": "k", "scopes": ["projects:read"], "max_server_budget_usd": true],
                ["name": "k", "scopes": ["projects:read"], "project_ids": ["prj_nope"]],
                ["name": "k", "scopes": ["projects:read"], "surprise": true],
                "{\"name\": \"k\", \"scopes\": [",
            ]
            for body in bad {
                let answer = try await client.call(.post, "/v1/api-keys", token: session, body: body)
                #expect((400..<500).contains(answer.status), "\(body) → \(answer.status)")
                #expect(answer.headers[.contentType] == "application/problem+json")
            }
            #expect(try await client.call(.get, "/v1/api-keys", token: session).items.isEmpty)
            #expect(try await client.activity(session, query: "&action=api_key.created").isEmpty)
        }
    }
}
