import Foundation
import S4AServer
import S4AClient
import OpenAPIRuntime
import S4AContract
import S4ATestSupport
import Testing
import AsyncHTTPClient
import NIOCore
import NIOSSL

/// Through the real TLS listener with the generated client, as the CLI talks to the server.
@Suite(.tags(.runc), .needs(.runc)) struct LiveServerTests {
    @Test func generatedClientDrivesTheAPIOverTLS() async throws {
        let test = try await TestPlane.make()
        try await LiveServer.run(test) { server in
            let credentials = Components.Schemas.Credentials(email: "live@example.com", password: "correct horse battery")
            let session = try await server.withConnection { anonymous in
                _ = try await anonymous.client.createAccount(body: .json(.init(email: credentials.email, password: credentials.password))).created
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

@Suite(.tags(.runc), .needs(.runc)) struct StreamingExecTests {
    /// With `Accept: text/event-stream` the first line arrives while the command still runs.
    @Test func execStreamsOutputAsItIsProduced() async throws {
        let test = try await TestPlane.make()
        try await LiveServer.run(test) { server in
            let token = try await server.withConnection { anonymous in
                let credentials = Components.Schemas.Credentials(email: "sse@example.com", password: "correct horse battery")
                _ = try await anonymous.client.createAccount(body: .json(.init(email: credentials.email, password: credentials.password))).created
                return try await anonymous.client.createSession(body: .json(credentials)).created.body.json.token
            }
            let serverID = try await server.withConnection(token: token) { person in
                let project = try await person.client.createProject(body: .json(.init(name: "S"))).created.body.json
                return try await person.client.createServer(body: .json(.init(
                    projectId: project.id, name: "s", memoryMb: 64, diskMb: 64, budgetUsd: .Money("1")))).created.body.json.id
            }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(server.caCertificatePath)
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
            var request = HTTPClientRequest(url: "https://localhost:\(server.port)/v1/servers/\(serverID)/exec")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Accept", value: "text/event-stream")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"command":"echo first; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo second >&2"}"#))
            let text: String, released: Bool
            do {
                (text, released) = try await Self.consume(http, request, token: token, serverID: serverID, server: server)
                try await http.shutdown()
            } catch {
                try? await http.shutdown()
                throw error
            }
            #expect(released)
            #expect(text.contains("event: stderr\ndata: \"second\\n\""))
            #expect(text.contains("event: exit\ndata: {"))
            #expect(text.contains("\"exit_code\":0"))
        }
        await test.close()
    }

    static func consume(_ http: HTTPClient, _ request: HTTPClientRequest, token: String, serverID: String,
                        server: LiveServer) async throws -> (String, Bool) {
        let response = try await http.execute(request, timeout: .seconds(60))
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
        var text = ""
        var released = false
        for try await chunk in response.body {
            text += String(buffer: chunk)
            if !released, text.contains("event: stdout\ndata: \"first\\n\"") {
                // The command is still waiting for us: the output was streamed, not buffered.
                released = true
                let go = try await server.withConnection(token: token) { person in
                try await person.client.execInServer(path: .init(serverId: serverID), body: .json(.init(command: "touch /tmp/go"))).ok.body.json
                }
                #expect(go.exitCode == 0)
            }
        }
        return (text, released)
    }
}

@Suite(.tags(.runc), .needs(.runc)) struct FollowLogsTests {
    /// `follow=true` streams new lines as they are written, read with the generated client
    /// and OpenAPIRuntime's event-stream decoder (as `s4a logs -f` reads them).
    @Test func followStreamsNewLinesAsTheyAreWritten() async throws {
        let test = try await TestPlane.make()
        try await LiveServer.run(test) { server in
            let token = try await server.withConnection { anonymous in
                let credentials = Components.Schemas.Credentials(email: "follow@example.com", password: "correct horse battery")
                _ = try await anonymous.client.createAccount(body: .json(.init(email: credentials.email, password: credentials.password))).created
                return try await anonymous.client.createSession(body: .json(credentials)).created.body.json.token
            }
            try await server.withConnection(token: token) { person in
                let project = try await person.client.createProject(body: .json(.init(name: "F"))).created.body.json
                let serverID = try await person.client.createServer(body: .json(.init(
                    projectId: project.id, name: "f", memoryMb: 64, diskMb: 64, budgetUsd: .Money("1")))).created.body.json.id
                let run = try await person.client.execInServer(path: .init(serverId: serverID), body: .json(.init(
                    command: "echo first; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo second", background: true)))
                    .accepted.body.json
                let response = try await person.client.getServerLogs(path: .init(serverId: serverID), query: .init(follow: true))
                let events = try response.ok.body.textEventStream
                    .asDecodedServerSentEventsWithJSONData(of: Components.Schemas.LogLine.self, decoder: .s4a)
                var texts: [String] = []
                for try await event in events {
                    let line = try #require(event.data)
                    #expect(line.runId == run.id)
                    texts.append(line.text)
                    if line.text == "first" {
                        // Still waiting for us: "second" can only come through the open stream.
                        _ = try await person.client.execInServer(path: .init(serverId: serverID),
                                                                 body: .json(.init(command: "touch /tmp/go"))).ok
                    }
                    if line.text == "second" {
                        // The stream ends when the server stops, after its last lines.
                        _ = try await person.client.stopServer(path: .init(serverId: serverID)).ok
                    }
                }
                #expect(texts.contains("first") && texts.contains("second"))
                #expect(texts.last == "exited with code 0")
            }
        }
        await test.close()
    }
}
