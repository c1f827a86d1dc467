import Foundation
import S4AServer
import S4ATestSupport
import Testing

@Suite(.tags(.runc), .needs(.runc)) struct ProjectRouteTests {
    @Test func newProjectsArePrivateWithAStableURL() async throws {
        try await TestPlane.make { $0.appsDomain = "apps.test"; $0.listenPort = 443 }.withClient { client in
            let session = try await client.signUp()
            let project = try await client.createProject(session, name: "Shop", slug: "shop-front")
            let id = try #require(project["id"] as? String)
            #expect(id.hasPrefix("prj_"))
            #expect(project["visibility"] as? String == "private")
            #expect(project["slug"] as? String == "shop-front")
            #expect(project["url"] as? String == "https://shop-front.apps.test")
            for visibility in ["public", "private", "public"] {
                let flipped = try await client.call(.patch, "/v1/projects/\(id)", token: session, body: ["visibility": visibility])
                #expect(flipped.status == 200)
                #expect(flipped["visibility"] as? String == visibility)
                #expect(flipped["url"] as? String == "https://shop-front.apps.test")
                #expect(flipped["slug"] as? String == "shop-front")
            }
            let renamed = try await client.call(.patch, "/v1/projects/\(id)", token: session, body: ["name": "Shop 2"])
            #expect(renamed["url"] as? String == "https://shop-front.apps.test")
            // A slug cannot be changed: the field is not part of an update.
            let slugChange = try await client.call(.patch, "/v1/projects/\(id)", token: session, body: ["slug": "other"])
            #expect(slugChange.status == 400)
        }
    }

    @Test func generatedSlugsAreValidAndDistinct() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let a = try await client.createProject(session, name: "Hello, World!")
            let b = try await client.createProject(session, name: "Hello, World!")
            let slugA = try #require(a["slug"] as? String)
            #expect(slugA.hasPrefix("hello-world-"))
            #expect(slugA != b["slug"] as? String)
            let odd = try await client.createProject(session, name: "日本語")
            #expect((odd["slug"] as? String)?.hasPrefix("project-") == true)
        }
    }

    @Test func publishingNeedsThePublishScope() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let id = try #require(try await client.createProject(session)["id"] as? String)
            let writer = try await client.createKey(session, scopes: ["projects:read", "projects:write"])
            let denied = try await client.call(.patch, "/v1/projects/\(id)", token: writer.token, body: ["visibility": "public"])
            #expect(denied.status == 403)
            #expect(try await client.call(.get, "/v1/projects/\(id)", token: session)["visibility"] as? String == "private")
            // Renaming and publishing together are refused as a whole.
            let both = try await client.call(.patch, "/v1/projects/\(id)", token: writer.token, body: ["name": "New", "visibility": "public"])
            #expect(both.status == 403)
            #expect(try await client.call(.get, "/v1/projects/\(id)", token: session)["name"] as? String == "App")
            let publisher = try await client.createKey(session, scopes: ["projects:write", "projects:publish"])
            let allowed = try await client.call(.patch, "/v1/projects/\(id)", token: publisher.token, body: ["visibility": "public"])
            #expect(allowed.status == 200)
            #expect(allowed["visibility"] as? String == "public")
        }
    }

    @Test func badSlugsAndDuplicatesAreRefusedAndWriteNothing() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            _ = try await client.createProject(session, slug: "taken-slug")
            let bad = ["ab", "UPPER", "has_underscore", "-leading", "trailing-", "double--dash", "api", "www",
                       String(repeating: "a", count: 41), "spa ce", "émoji"]
            for slug in bad {
                let answer = try await client.call(.post, "/v1/projects", token: session, body: ["name": "x", "slug": slug])
                #expect(answer.status == 400, "\(slug)")
                #expect(answer.problemType == "urn:s4a:problem:invalid-request")
            }
            let duplicate = try await client.call(.post, "/v1/projects", token: session, body: ["name": "x", "slug": "taken-slug"])
            #expect(duplicate.status == 409)
            #expect(duplicate.problemType == "urn:s4a:problem:slug-taken")
            // Another account cannot take it either.
            let other = try await client.signUp()
            #expect(try await client.call(.post, "/v1/projects", token: other, body: ["name": "x", "slug": "taken-slug"]).status == 409)
            let malformed: [Any] = ["{\"name\":", ["name": 42], ["name": ""], ["nom": "x"], ["name": "x", "visibility": "public"], "[1,2]"]
            for body in malformed {
                let answer = try await client.call(.post, "/v1/projects", token: session, body: body)
                #expect(answer.status == 400, "\(body) → \(answer.status) \(answer.body)")
                #expect(answer.headers[.contentType] == "application/problem+json")
            }
            #expect(try await client.call(.get, "/v1/projects", token: session).items.count == 1)
            #expect(try await client.activity(session, query: "&action=project.created").count == 1)
        }
    }

    @Test func deleteRemovesTheProject() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            let id = try #require(try await client.createProject(session)["id"] as? String)
            #expect(try await client.call(.delete, "/v1/projects/\(id)", token: session).status == 204)
            #expect(try await client.call(.get, "/v1/projects/\(id)", token: session).status == 404)
            #expect(try await client.call(.delete, "/v1/projects/\(id)", token: session).status == 404)
        }
    }

    @Test func otherAccountsProjectsAreInvisible() async throws {
        try await TestPlane.make().withClient { client in
            let alice = try await client.signUp()
            let bob = try await client.signUp()
            let id = try #require(try await client.createProject(alice)["id"] as? String)
            #expect(try await client.call(.get, "/v1/projects/\(id)", token: bob).status == 404)
            #expect(try await client.call(.patch, "/v1/projects/\(id)", token: bob, body: ["visibility": "public"]).status == 404)
            #expect(try await client.call(.get, "/v1/projects", token: bob).items.isEmpty)
        }
    }

    @Test func listsPaginateWithOpaqueCursors() async throws {
        try await TestPlane.make().withClient { client in
            let session = try await client.signUp()
            var created: [String] = []
            for index in 0..<5 { created.append(try #require(try await client.createProject(session, name: "P\(index)")["id"] as? String)) }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "&cursor=\($0)" } ?? ""
                let page = try await client.call(.get, "/v1/projects?limit=2\(query)", token: session)
                #expect(page.status == 200)
                #expect(page.items.count <= 2)
                seen += page.items.compactMap { $0["id"] as? String }
                cursor = page["next_cursor"] as? String
            } while cursor != nil
            #expect(Set(seen) == Set(created))
            #expect(seen.count == 5)
            #expect(try await client.call(.get, "/v1/projects?cursor=garbage!", token: session).status == 400)
            #expect(try await client.call(.get, "/v1/projects?limit=0", token: session).status == 400)
            #expect(try await client.call(.get, "/v1/projects?limit=abc", token: session).status == 400)
        }
    }
}
