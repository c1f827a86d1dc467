import Foundation
import HTTPTypes
import S4AServer
import S4ATestSupport
import Testing

@Suite(.tags(.runc), .needs(.runc)) struct AccountRouteTests {
    @Test func signUpSignInAndOut() async throws {
        try await TestPlane.make().withClient { client in
            let token = try await client.signUp("ada@example.com")
            #expect(token.hasPrefix("s4s_"))
            let me = try await client.call(.get, "/v1/account", token: token)
            #expect(me.status == 200)
            #expect(me["email"] as? String == "ada@example.com")
            let out = try await client.call(.delete, "/v1/sessions/current", token: token)
            #expect(out.status == 204)
            #expect(out.headers[.setCookie]?.contains("Max-Age=0") == true)
            let after = try await client.call(.get, "/v1/account", token: token)
            #expect(after.status == 401)
            #expect(after.headers[.contentType] == "application/problem+json")
        }
    }

    @Test func sessionCookieIsHttpOnlySecureLaxAndWorks() async throws {
        try await TestPlane.make().withClient { client in
            _ = try await client.call(.post, "/v1/accounts", body: ["email": "c@example.com", "password": "correct horse battery"])
            let session = try await client.call(.post, "/v1/sessions", body: ["email": "c@example.com", "password": "correct horse battery"])
            let cookie = try #require(session.headers[.setCookie])
            let token = try #require(session["token"] as? String)
            #expect(cookie.hasPrefix("__Host-s4a_session=\(token);"))
            for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] { #expect(cookie.contains(flag), "\(flag)") }
            let viaCookie = try await client.call(.get, "/v1/projects", headers: ["Cookie": "__Host-s4a_session=\(token)"])
            #expect(viaCookie.status == 200)
        }
    }

    @Test func cookieAuthenticatedWritesNeedTheAPIsOrigin() async throws {
        try await TestPlane.make().withClient { client in
            let token = try await client.signUp()
            let cookie = ["Cookie": "__Host-s4a_session=\(token)"]
            let crossSite = try await client.call(.post, "/v1/projects", body: ["name": "x"],
                                                  headers: cookie.merging(["Origin": "https://evil.example"]) { $1 })
            #expect(crossSite.status == 403)
            let noOrigin = try await client.call(.post, "/v1/projects", body: ["name": "x"], headers: cookie)
            #expect(noOrigin.status == 403)
            let sameOrigin = try await client.call(.post, "/v1/projects", body: ["name": "x"],
                                                   headers: cookie.merging(["Origin": "https://localhost:0"]) { $1 })
            #expect(sameOrigin.status == 201, "\(sameOrigin.body)")
            let projects = try await client.call(.get, "/v1/projects", token: token)
            #expect(projects.items.count == 1)
        }
    }

    @Test func unknownEmailAndWrongPasswordAnswerIdentically() async throws {
        try await TestPlane.make().withClient { client in
            _ = try await client.signUp("known@example.com")
            let wrong = try await client.call(.post, "/v1/sessions", body: ["email": "known@example.com", "password": "not the password!"])
            let unknown = try await client.call(.post, "/v1/sessions", body: ["email": "nobody@example.com", "password": "not the password!"])
            #expect(wrong.status == 401)
            #expect(wrong.status == unknown.status)
            #expect(wrong.body == unknown.body)
            var a = wrong.headers, b = unknown.headers
            a[.date] = nil
            b[.date] = nil
            #expect(a == b)
        }
    }

    @Test func signUpDoesNotRevealExistingAccounts() async throws {
        try await TestPlane.make().withClient { client in
            let first = try await client.call(.post, "/v1/accounts", body: ["email": "dup@example.com", "password": "correct horse battery"])
            let again = try await client.call(.post, "/v1/accounts", body: ["email": "dup@example.com", "password": "other password 123"])
            #expect(first.status == 201)
            #expect(again.status == first.status)
            #expect(again.body == first.body)
            // The first password still holds; the second sign-up changed nothing.
            let old = try await client.call(.post, "/v1/sessions", body: ["email": "dup@example.com", "password": "correct horse battery"])
            #expect(old.status == 201)
        }
    }

    @Test func fiveFailuresThrottleTheEmail() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            _ = try await client.signUp("t@example.com")
            for _ in 0..<5 {
                let failed = try await client.call(.post, "/v1/sessions", body: ["email": "t@example.com", "password": "wrong password!!"])
                #expect(failed.status == 401)
            }
            let throttled = try await client.call(.post, "/v1/sessions", body: ["email": "t@example.com", "password": "correct horse battery"])
            #expect(throttled.status == 429)
            let retry = try #require(throttled.headers[.retryAfter].flatMap(Int.init))
            #expect(retry > 0 && retry <= 900)
            #expect(throttled.problemType == "urn:s4a:problem:throttled")
            // Unknown emails are throttled alike, so 429 says nothing about existence.
            for _ in 0..<5 {
                _ = try await client.call(.post, "/v1/sessions", body: ["email": "ghost@example.com", "password": "wrong password!!"])
            }
            let ghost = try await client.call(.post, "/v1/sessions", body: ["email": "ghost@example.com", "password": "wrong password!!"])
            #expect(ghost.status == 429)
            // After the window the right password works again.
            test.clock.advance(15 * 60 + 1)
            let later = try await client.call(.post, "/v1/sessions", body: ["email": "t@example.com", "password": "correct horse battery"])
            #expect(later.status == 201)
        }
    }

    @Test func passwordRules() async throws {
        try await TestPlane.make().withClient { client in
            let short = try await client.call(.post, "/v1/accounts", body: ["email": "s@example.com", "password": "short"])
            #expect(short.status == 400)
            #expect(short.problemType == "urn:s4a:problem:invalid-request")
            let badEmail = try await client.call(.post, "/v1/accounts", body: ["email": "not-an-email", "password": "correct horse battery"])
            #expect(badEmail.status == 400)
            let login = try await client.call(.post, "/v1/sessions", body: ["email": "s@example.com", "password": "short"])
            #expect(login.status == 401, "nothing was created")
        }
    }

    @Test func changingThePasswordEndsOtherSessions() async throws {
        try await TestPlane.make().withClient { client in
            let first = try await client.signUp("p@example.com")
            let second = try #require(try await client.call(.post, "/v1/sessions", body: ["email": "p@example.com", "password": "correct horse battery"])["token"] as? String)
            let wrongCurrent = try await client.call(.put, "/v1/account/password", token: first,
                                                     body: ["current_password": "nope nope nope", "new_password": "a brand new password"])
            #expect(wrongCurrent.status == 403)
            let changed = try await client.call(.put, "/v1/account/password", token: first,
                                                body: ["current_password": "correct horse battery", "new_password": "a brand new password"])
            #expect(changed.status == 204)
            #expect(try await client.call(.get, "/v1/account", token: first).status == 200)
            #expect(try await client.call(.get, "/v1/account", token: second).status == 401)
            let old = try await client.call(.post, "/v1/sessions", body: ["email": "p@example.com", "password": "correct horse battery"])
            #expect(old.status == 401)
        }
    }

    @Test func guessingTheCurrentPasswordIsThrottled() async throws {
        try await TestPlane.make().withClient { client in
            let token = try await client.signUp("g@example.com")
            for _ in 0..<5 {
                let wrong = try await client.call(.put, "/v1/account/password", token: token,
                                                  body: ["current_password": "a wrong guess!", "new_password": "a brand new password"])
                #expect(wrong.status == 403)
            }
            // Now even the right one waits: a stolen session cannot try passwords at will.
            let right = try await client.call(.put, "/v1/account/password", token: token,
                                              body: ["current_password": "correct horse battery", "new_password": "a brand new password"])
            #expect(right.status == 429)
            #expect(try await client.call(.post, "/v1/sessions",
                                          body: ["email": "g@example.com", "password": "correct horse battery"]).status == 201)
        }
    }

    @Test func closedSignUpRefuses() async throws {
        try await TestPlane.make { $0.signupOpen = false }.withClient { client in
            let answer = try await client.call(.post, "/v1/accounts", body: ["email": "x@example.com", "password": "correct horse battery"])
            #expect(answer.status == 403)
        }
    }

    @Test func sessionsExpire() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let token = try await client.signUp()
            test.clock.advance(7 * 24 * 3600 + 1)
            #expect(try await client.call(.get, "/v1/account", token: token).status == 401)
        }
    }
}
