import Foundation
import S4ADomain
import S4AServer
import S4ATestSupport
import Testing

@Suite(.tags(.runc), .needs(.runc)) struct ActivityRouteTests {
    /// Each mutation leaves exactly one event, naming who did it.
    @Test func everyMutationLeavesOneEventWithItsActor() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp("audit@example.com")
            var expected: [(action: String, actor: String)] = [("account.created", "account"), ("session.created", "account")]
            func check() async throws {
                let feed = try await client.activity(session).reversed().map { ($0["action"] as? String ?? "", ($0["actor"] as? [String: Any])?["type"] as? String ?? "") }
                #expect(feed.map(\.0) == expected.map(\.action))
                #expect(feed.map(\.1) == expected.map(\.actor))
            }
            try await check()
            let key = try await client.createKey(session, scopes: ["projects:read", "projects:write", "projects:publish", "keys:write"])
            expected.append(("api_key.created", "account"))
            try await check()
            let id = try #require(try await client.createProject(key.token)["id"] as? String)
            expected.append(("project.created", "api_key"))
            try await check()
            _ = try await client.call(.patch, "/v1/projects/\(id)", token: key.token, body: ["name": "Renamed"])
            expected.append(("project.updated", "api_key"))
            try await check()
            _ = try await client.call(.patch, "/v1/projects/\(id)", token: session, body: ["visibility": "public"])
            expected.append(("project.visibility_changed", "account"))
            try await check()
            // A PATCH that changes nothing records nothing.
            _ = try await client.call(.patch, "/v1/projects/\(id)", token: session, body: ["visibility": "public"])
            try await check()
            _ = try await client.call(.delete, "/v1/projects/\(id)", token: key.token)
            expected.append(("project.deleted", "api_key"))
            try await check()
            _ = try await client.call(.delete, "/v1/api-keys/\(key.id)", token: session)
            expected.append(("api_key.revoked", "account"))
            try await check()
            let feed = try await client.activity(session)
            let visibility = try #require(feed.first { $0["action"] as? String == "project.visibility_changed" })
            #expect(visibility["metadata"] as? [String: String] == ["from": "private", "to": "public"])
            #expect(visibility["project_id"] as? String == id)
            // The chain the API shows is the chain the store verifies.
            let accountID = try #require(try await client.call(.get, "/v1/account", token: session)["id"] as? String)
            let chain = try await test.plane.store.read { tx in try await tx.activity.chain(accountID: accountID) }
            #expect(chain.count == expected.count)
            #expect(ActivityChain.verify(chain) == nil)
        }
    }

    @Test func filtersAndPagination() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let a = try #require(try await client.createProject(session, name: "A")["id"] as? String)
            _ = try await client.createProject(session, name: "B")
            _ = try await client.call(.patch, "/v1/projects/\(a)", token: session, body: ["name": "A2"])
            let onlyA = try await client.activity(session, query: "&project_id=\(a)")
            #expect(onlyA.map { $0["action"] as? String } == ["project.updated", "project.created"])
            let created = try await client.activity(session, query: "&action=project.created")
            #expect(created.count == 2)
            let first = try await client.call(.get, "/v1/activity?limit=2", token: session)
            let cursor = try #require(first["next_cursor"] as? String)
            let second = try await client.call(.get, "/v1/activity?limit=2&cursor=\(cursor)", token: session)
            let ids = (first.items + second.items).compactMap { $0["id"] as? String }
            #expect(Set(ids).count == 4)
        }
    }
}
