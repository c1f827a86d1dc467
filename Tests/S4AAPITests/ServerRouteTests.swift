import Foundation
import HummingbirdTesting
import S4ADomain
import S4AServer
import S4ATestSupport
import Testing

extension TestClientProtocol {
    func createServer(_ token: String, projectID: String, extra: [String: Any] = [:]) async throws -> [String: Any] {
        var body: [String: Any] = ["project_id": projectID, "name": "box", "budget_usd": "5.00", "memory_mb": 128, "disk_mb": 64]
        body.merge(extra) { $1 }
        let answer = try await call(.post, "/v1/servers", token: token, body: body)
        #expect(answer.status == 201, "\(answer.body)")
        return answer.json
    }

    func exec(_ token: String, _ serverID: String, _ body: [String: Any]) async throws -> Answer {
        try await call(.post, "/v1/servers/\(serverID)/exec", token: token, body: body)
    }
}

@Suite(.serialized, .tags(.runc), .needs(.runc)) struct ServerRouteTests {
    @Test func createExecStopStartDelete() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let server = try await client.createServer(session, projectID: project, extra: ["budget_usd": 2.5])
            let id = try #require(server["id"] as? String)
            #expect(id.hasPrefix("srv_"))
            #expect(server["state"] as? String == "running")
            #expect(server["budget_usd"] as? String == "2.50")
            #expect(server["cpu_millis"] as? Int == 1000)
            #expect(server["template"] as? String == "base")

            let ran = try await client.exec(session, id, ["command": "echo hi; echo oops >&2; exit 3"])
            #expect(ran.status == 200, "\(ran.body)")
            #expect(ran["stdout"] as? String == "hi\n")
            #expect(ran["stderr"] as? String == "oops\n")
            #expect(ran["exit_code"] as? Int == 3)
            #expect(ran["timed_out"] as? Bool == false)
            let argv = try await client.exec(session, id, ["argv": ["python3", "-c", "import sys;print(sys.stdin.read().upper())"],
                                                            "stdin": "quiet", "env": ["X": "1"], "cwd": "/srv"])
            #expect(argv["stdout"] as? String == "QUIET\n")
            let timed = try await client.exec(session, id, ["command": "sleep 30", "timeout_s": 1])
            #expect(timed["timed_out"] as? Bool == true)

            let runs = try await client.call(.get, "/v1/servers/\(id)/runs", token: session)
            #expect(runs.items.count == 3)
            #expect(runs.items.allSatisfy { $0["stdout"] == nil })
            let runID = try #require(ran["run_id"] as? String)
            let run = try await client.call(.get, "/v1/servers/\(id)/runs/\(runID)", token: session)
            #expect(run["stdout"] as? String == "hi\n")
            #expect(run["exit_code"] as? Int == 3)
            #expect(run["state"] as? String == "exited")

            let stopped = try await client.call(.post, "/v1/servers/\(id)/stop", token: session)
            #expect(stopped["state"] as? String == "stopped")
            let refused = try await client.exec(session, id, ["command": "true"])
            #expect(refused.status == 409)
            #expect(refused.problemType == "urn:s4a:problem:server-not-running")
            let started = try await client.call(.post, "/v1/servers/\(id)/start", token: session)
            #expect(started["state"] as? String == "running", "\(started.body)")
            #expect(try await client.exec(session, id, ["command": "echo back"])["stdout"] as? String == "back\n")

            let listed = try await client.call(.get, "/v1/servers?project_id=\(project)", token: session)
            #expect(listed.items.map { $0["id"] as? String } == [id])
            #expect(try await client.call(.delete, "/v1/servers/\(id)", token: session).status == 204)
            #expect(try await client.call(.get, "/v1/servers/\(id)", token: session).status == 404)
            #expect(try await test.plane.runtime.list().isEmpty)

            let actions = try await client.activity(session, query: "&project_id=\(project)").compactMap { $0["action"] as? String }
            #expect(actions == ["server.deleted", "server.started", "server.stopped", "server.started", "server.created", "project.created"])
        }
    }

    /// `none` by default (loopback only); `egress` is accepted and gets its tap device and DNS.
    @Test func networkIsNoneByDefaultAndEgressOnRequest() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let plain = try await client.createServer(session, projectID: project)
            let egress = try await client.createServer(session, projectID: project, extra: ["network": "egress"])
            #expect(plain["network"] as? String == "none")
            #expect(egress["network"] as? String == "egress")
            #expect(egress["state"] as? String == "running")
            let plainID = try #require(plain["id"] as? String), egressID = try #require(egress["id"] as? String)
            let interfaces = "ls /sys/class/net | tr '\\n' ' '; cat /etc/resolv.conf"
            #expect(try await client.exec(session, plainID, ["command": interfaces])["stdout"] as? String == "lo ")
            #expect(try await client.exec(session, egressID, ["command": interfaces])["stdout"] as? String
                    == "lo tap0 nameserver 10.0.2.3\n")
            for id in [plainID, egressID] {
                #expect(try await client.call(.delete, "/v1/servers/\(id)", token: session).status == 204)
            }
            #expect(try await test.plane.runtime.list().isEmpty)
        }
    }

    @Test func badServerRequestsCreateNothing() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let base: [String: Any] = ["project_id": project, "name": "box", "budget_usd": "1"]
            // Outside the contract's ranges: invalid (400), like every rule the contract states.
            let outOfRange: [[String: Any]] = [
                ["cpu_millis": 50], ["cpu_millis": 99_999], ["memory_mb": 1], ["disk_mb": 1_000_000], ["budget_usd": "0"],
            ]
            for change in outOfRange {
                let answer = try await client.call(.post, "/v1/servers", token: session, body: base.merging(change) { $1 })
                #expect(answer.status == 400, "\(change) → \(answer.status) \(answer.body)")
                #expect(answer.problemType == "urn:s4a:problem:invalid-request")
            }
            // Within the rules but not possible here: unprocessable (422).
            let unknown = try await client.call(.post, "/v1/servers", token: session, body: base.merging(["template": "windows"]) { $1 })
            #expect(unknown.status == 422 && unknown.problemType == "urn:s4a:problem:unprocessable", "\(unknown.body)")
            let invalid: [Any] = [
                base.merging(["budget_usd": "-1"]) { $1 }, base.merging(["cpu_millis": "lots"]) { $1 },
                base.merging(["network": "host"]) { $1 }, base.merging(["privileged": true]) { $1 },
                ["project_id": project, "name": "x"], "{\"project_id\":", base.merging(["name": ""]) { $1 },
            ]
            for body in invalid {
                let answer = try await client.call(.post, "/v1/servers", token: session, body: body)
                #expect(answer.status == 400, "\(body) → \(answer.status) \(answer.body)")
            }
            let other = try await client.call(.post, "/v1/servers", token: session,
                                              body: base.merging(["project_id": "prj_nothere"]) { $1 })
            #expect(other.status == 404)
            #expect(try await client.call(.get, "/v1/servers", token: session).items.isEmpty)
            #expect(try await test.plane.runtime.list().isEmpty)
            #expect(try await client.activity(session, query: "&action=server.created").isEmpty)
        }
    }

    @Test func execInputIsChecked() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let id = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            for body: [String: Any] in [[:], ["command": "x", "argv": ["y"]], ["command": ""], ["argv": []],
                                        ["command": "true", "timeout_s": 0], ["command": "true", "cwd": "relative"],
                                        ["command": "true", "env": ["1BAD": "x"]], ["command": "true", "shell": true]] {
                let answer = try await client.exec(session, id, body)
                #expect(answer.status == 400, "\(body) → \(answer.status) \(answer.body)")
            }
            #expect(try await client.call(.get, "/v1/servers/\(id)/runs", token: session).items.isEmpty)
            #expect(try await client.exec(session, "srv_nothere", ["command": "true"]).status == 404)
            _ = try await client.call(.delete, "/v1/servers/\(id)", token: session)
        }
    }

    @Test func scopesProjectsAndBudgetCeilingsApply() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let mine = try #require(try await client.createProject(session, name: "Mine")["id"] as? String)
            let other = try #require(try await client.createProject(session, name: "Other")["id"] as? String)
            let hidden = try #require(try await client.createServer(session, projectID: other)["id"] as? String)
            let agent = try await client.createKey(session, scopes: ["servers:read", "servers:write", "servers:exec"],
                                                   extra: ["project_ids": [mine], "max_server_budget_usd": "3"])
            #expect(try await client.call(.get, "/v1/servers/\(hidden)", token: agent.token).status == 404)
            #expect(try await client.exec(agent.token, hidden, ["command": "true"]).status == 404)
            #expect(try await client.call(.delete, "/v1/servers/\(hidden)", token: agent.token).status == 404)
            #expect(try await client.call(.get, "/v1/servers", token: agent.token).items.isEmpty)
            let tooRich = try await client.call(.post, "/v1/servers", token: agent.token,
                                                body: ["project_id": mine, "name": "x", "budget_usd": "3.01"])
            #expect(tooRich.status == 403)
            let elsewhere = try await client.call(.post, "/v1/servers", token: agent.token,
                                                  body: ["project_id": other, "name": "x", "budget_usd": "1"])
            #expect(elsewhere.status == 404)
            let reader = try await client.createKey(session, scopes: ["servers:read"])
            #expect(try await client.exec(reader.token, hidden, ["command": "true"]).status == 403)
            #expect(try await client.call(.post, "/v1/servers/\(hidden)/stop", token: reader.token).status == 403)
            // Deleting the project destroys its servers.
            #expect(try await client.call(.delete, "/v1/projects/\(other)", token: session).status == 204)
            #expect(try await test.plane.runtime.list().isEmpty)
        }
    }

    /// The control plane stops (here: closes without stopping servers); a new one adopts the
    /// running server, marks a vanished one failed and removes what belongs to nobody.
    @Test func aRestartAdoptsRunningServersAndClearsOrphans() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-restart-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await TestPlane.make { $0.dataDirectory = directory.path }
        let (session, kept, vanished) = try await first.withClient(removing: false) { client in
            let session = try await client.signUp("restart@example.com")
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let kept = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            let vanished = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            _ = try await client.exec(session, kept, ["command": "echo persisted > /root/f"])
            return (session, kept, vanished)
        }
        // Behind the platform's back: one container dies, one stray appears.
        try await first.plane.runtime.stop(vanished)
        var strayServer = Server(id: "srv_stray000000000", projectID: "p", accountID: "a", name: "s", template: "base",
                                 cpuMillis: 1000, memoryMB: 64, diskMB: 64, pidsLimit: 64, budget: MicroDollars(1),
                                 network: .none, state: .running, uidSlot: 59_000, createdAt: Date(), updatedAt: Date())
        strayServer.state = .running
        try await first.plane.runtime.prepare(ContainerSpec(server: strayServer))
        try await first.plane.runtime.start(ContainerSpec(server: strayServer))

        let second = try await TestPlane.make { $0.dataDirectory = directory.path }
        try await second.plane.reconcile()
        try await second.withClient { client in
            let adopted = try await client.call(.get, "/v1/servers/\(kept)", token: session)
            #expect(adopted["state"] as? String == "running")
            #expect(try await client.exec(session, kept, ["command": "cat /root/f"])["stdout"] as? String == "persisted\n")
            let failed = try await client.call(.get, "/v1/servers/\(vanished)", token: session)
            #expect(failed["state"] as? String == "failed")
            #expect((failed["last_error"] as? String)?.contains("vanished") == true)
            #expect(try await second.plane.runtime.list() == [kept])
            // A failed server can be started again, its disk intact.
            #expect(try await client.call(.post, "/v1/servers/\(vanished)/start", token: session)["state"] as? String == "running")
            let actions = try await client.activity(session, query: "&action=server.failed")
            #expect((actions.first?["actor"] as? [String: Any])?["type"] as? String == "system")
            for id in [kept, vanished] { _ = try await client.call(.delete, "/v1/servers/\(id)", token: session) }
        }
    }
}
