import Foundation
import S4AAPI
import S4AClient
import S4AContract
import Testing

/// Through the real TLS listener with the generated client, as the CLI talks to the server.
@Suite struct LiveServerTests {
    @Test func generatedClientDrivesTheAPIOverTLS() async throws {
        let test = try await TestPlane.make()
        try await LiveServer.run(test) { server in
            let credentials = Components.Schemas.Credentials(email: "live@example.com", password: "correct horse battery")
            let session = try await server.withConnection { anonymous in
                _ = try await anonymous.client.createAccount(body: .json(credentials)).created
                return try await anonymous.client.createSession(body: .json(credentials)).created.body.json
            }
            let (project, key) = try await server.withConnection(token: session.token) { person in
                let project = try await person.client.createProject(body: .json(.init(name: "Live"))).created.body.json
                let key = try await person.client.createAPIKey(body: .json(.init(name: "a", scopes: [.projects_colon_read]))).created.body.json
                return (project, key)
            }
            #expect(project.visibility == ._private)
            #expect(project.url == test.plane.options.projectURL(slug: project.slug))
            try await server.withConnection(token: key.token) { agent in
                let listed = try await agent.client.listProjects().ok.body.json.items
                #expect(listed.map(\.id) == [project.id])
                guard case .default(let status, _) = try await agent.client.createProject(body: .json(.init(name: "No"))) else {
                    Issue.record("a read-only key created a project")
                    return
                }
                #expect(status == 403)
            }
        }
        await test.close()
    }

    /// Failures from one client address count together, whatever emails they try.
    @Test func oneAddressIsThrottledAcrossEmails() async throws {
        let test = try await TestPlane.make()
        try await LiveServer.run(test) { server in
            try await server.withConnection { connection in
                for index in 0..<5 {
                    let output = try await connection.client.createSession(
                        body: .json(.init(email: "probe\(index)@example.com", password: "guess guess guess")))
                    guard case .default(let status, _) = output else { throw CancellationError() }
                    #expect(status == 401)
                }
                let output = try await connection.client.createSession(
                    body: .json(.init(email: "fresh@example.com", password: "guess guess guess")))
                guard case .default(let status, let problem) = output else { throw CancellationError() }
                #expect(status == 429)
                #expect(APIProblem(status: status, problem).problem?._type == "urn:s4a:problem:throttled")
            }
        }
        await test.close()
    }

    @Test func untrustedClientsAreRefused() async throws {
        let test = try await TestPlane.make()
        try await LiveServer.run(test) { server in
            // Without the platform CA the certificate does not verify.
            try await server.withConnection(trustingCA: false) { stranger in
                await #expect(throws: (any Error).self) { _ = try await stranger.client.getHealth() }
            }
        }
        await test.close()
    }
}
