import Foundation
import HummingbirdTesting
import S4ADomain
import S4AServer
import S4ATestSupport
import Testing

/// Background commands and the server's logs, through the routes, on real runc.
@Suite(.serialized, .tags(.runc), .needs(.runc)) struct LogRouteTests {
    func waitForRun(_ client: any TestClientProtocol, _ token: String, _ server: String, _ run: String) async throws -> Answer {
        for _ in 0..<200 {
            let answer = try await client.call(.get, "/v1/servers/\(server)/runs/\(run)", token: token)
            if answer["state"] as? String != "running" { return answer }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw DomainError.invalid("run", "did not end")
    }

    @Test func backgroundCommandsLogAndRecordHowTheyEnded() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let id = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            let before = Date().addingTimeInterval(-1)

            let started = try await client.exec(session, id, ["command": "echo hello $WHO; echo Trouble >&2; exit 4",
                                                              "env": ["WHO": "world"], "background": true])
            #expect(started.status == 202, "\(started.body)")
            #expect(started["kind"] as? String == "background")
            let runID = try #require(started["id"] as? String)
            let ended = try await waitForRun(client, session, id, runID)
            #expect(ended["state"] as? String == "exited")
            #expect(ended["exit_code"] as? Int == 4)

            let logs = try await client.call(.get, "/v1/servers/\(id)/logs", token: session)
            #expect(logs.status == 200, "\(logs.body)")
            let lines = try #require(logs["lines"] as? [[String: Any]])
            #expect(lines.contains { $0["text"] as? String == "hello world" && $0["stream"] as? String == "stdout" })
            #expect(lines.contains { $0["text"] as? String == "Trouble" && $0["stream"] as? String == "stderr" })
            #expect(lines.contains { $0["text"] as? String == "exited with code 4" && $0["stream"] as? String == "system" })
            #expect(lines.allSatisfy { $0["run_id"] as? String == runID })
            let times = lines.compactMap { ($0["time"] as? String).flatMap { try? Date($0, strategy: .iso8601) } }
            #expect(times.count == lines.count && times.allSatisfy { $0 >= before })

            // q (case-insensitive), limit (the newest), and a window that holds nothing.
            let matching = try await client.call(.get, "/v1/servers/\(id)/logs?q=trouble", token: session)
            #expect((matching["lines"] as? [[String: Any]])?.map { $0["text"] as? String } == ["Trouble"])
            let last = try await client.call(.get, "/v1/servers/\(id)/logs?limit=1", token: session)
            #expect((last["lines"] as? [[String: Any]])?.map { $0["text"] as? String } == ["exited with code 4"])
            let future = try await client.call(.get, "/v1/servers/\(id)/logs?since=2999-01-01T00:00:00Z", token: session)
            #expect((future["lines"] as? [[String: Any]])?.isEmpty == true)
            let past = try await client.call(.get, "/v1/servers/\(id)/logs?until=2000-01-01T00:00:00Z", token: session)
            #expect((past["lines"] as? [[String: Any]])?.isEmpty == true)

            // Exec output (waited for) is a run's, not the logs'.
            _ = try await client.exec(session, id, ["command": "echo only-in-the-run"])
            let after = try await client.call(.get, "/v1/servers/\(id)/logs?q=only-in-the-run", token: session)
            #expect((after["lines"] as? [[String: Any]])?.isEmpty == true)

            // Logs outlive a stop; a stopped server cannot start a background command.
            _ = try await client.call(.post, "/v1/servers/\(id)/stop", token: session)
            let kept = try await client.call(.get, "/v1/servers/\(id)/logs?q=hello", token: session)
            #expect((kept["lines"] as? [[String: Any]])?.count == 1)
            let refused = try await client.exec(session, id, ["command": "true", "background": true])
            #expect(refused.status == 409)
        }
        await test.close()
    }

    @Test func aLongRunningBackgroundCommandIsRunningUntilTheServerStops() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let id = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            let started = try await client.exec(session, id, ["argv": ["sleep", "600"], "background": true])
            let runID = try #require(started["id"] as? String)
            let running = try await client.call(.get, "/v1/servers/\(id)/runs/\(runID)", token: session)
            #expect(running["state"] as? String == "running")
            // The run is recorded running as its `runc exec` starts: the process follows within moments.
            var seen = ""
            for _ in 0..<50 {
                seen = try await client.exec(session, id, ["command": "ps -eo args | grep -c '^sleep 600'"])["stdout"] as? String ?? ""
                if seen == "1\n" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(seen == "1\n")
            _ = try await client.call(.post, "/v1/servers/\(id)/stop", token: session)
            let ended = try await client.call(.get, "/v1/servers/\(id)/runs", token: session)
            let run = try #require(ended.items.first { $0["id"] as? String == runID })
            #expect(run["state"] as? String == "exited")
            #expect(run["exit_code"] as? Int != 0)
        }
        await test.close()
    }

    @Test func badInputIsRefusedAndStartsNothing() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let id = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            for body: [String: Any] in [["command": "true", "background": true, "stdin": "x"],
                                        ["command": "true", "background": true, "timeout_s": 5],
                                        ["command": "", "background": true],
                                        ["command": "true", "background": "yes"]] {
                let answer = try await client.exec(session, id, body)
                #expect(answer.status == 400, "\(body): \(answer.status) \(answer.body)")
                #expect(answer.headers[.contentType] == "application/problem+json")
            }
            #expect(try await client.call(.get, "/v1/servers/\(id)/runs", token: session).items.isEmpty)
            for query in ["limit=0", "limit=10001", "since=yesterday", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
                          "follow=true&until=2026-01-01T00:00:00Z", "follow=maybe"] {
                let answer = try await client.call(.get, "/v1/servers/\(id)/logs?\(query)", token: session)
                #expect(answer.status == 400, "\(query): \(answer.status) \(answer.body)")
                #expect(answer.problemType != nil)
            }
            // Another account's server, and a key without servers:read, see nothing.
            let stranger = try await client.signUp()
            #expect(try await client.call(.get, "/v1/servers/\(id)/logs", token: stranger).status == 404)
            let writer = try await client.createKey(session, scopes: ["projects:read"])
            #expect(try await client.call(.get, "/v1/servers/\(id)/logs", token: writer.token).status == 403)
            let execOnly = try await client.createKey(session, scopes: ["servers:read"])
            #expect(try await client.exec(execOnly.token, id, ["command": "true", "background": true]).status == 403)
        }
        await test.close()
    }
}
