import Foundation
import S4ADomain
import S4ATestSupport
import Testing

/// Retention with the plane's clock moved a month on: samples and log lines go, anonymous
/// daily totals stay, and the money (ledger) and the activity are untouched.
@Suite(.serialized, .tags(.runc), .needs(.runc)) struct UsageRetentionTests {
    @Test func aMonthLaterSamplesAndLogsBecomeAnonymousDailyTotals() async throws {
        let test = try await TestPlane.make()
        let usage = UsageService(env: test.plane.environment, runtime: test.plane.runtime, card: .standard)
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let server = try await client.call(.post, "/v1/servers", token: session, body: [
                "project_id": project, "name": "kept", "budget_usd": "1", "memory_mb": 64, "disk_mb": 64])
            let id = try #require(server["id"] as? String)
            let run = try await client.call(.post, "/v1/servers/\(id)/exec", token: session,
                                            body: ["command": "for i in 1 2 3; do echo line $i; done", "background": true])
            #expect(run.status == 202)
            var lines: [[String: Any]] = []
            for _ in 0..<100 where lines.count < 3 {
                try await Task.sleep(for: .milliseconds(100))
                lines = (try await client.call(.get, "/v1/servers/\(id)/logs", token: session)["lines"] as? [[String: Any]] ?? [])
                    .filter { $0["stream"] as? String == "stdout" }
            }
            #expect(lines.count == 3)
            var previous: [String: Int64] = [:]
            for _ in 0..<2 {
                #expect(try await usage.sample(previous: &previous).servers == 1)
                test.clock.advance(5)
            }
            let day = DailyUsage.dayName(test.clock.now)
            // The session ends within the month; a key reads afterwards.
            let reader = try await client.createKey(session, scopes: ["servers:read", "activity:read"]).token
            let before = try await test.plane.store.read { tx in try await tx.ledger.ledgerBalance(serverID: id) }
            let activity = try await client.activity(session).count

            // Within the period nothing goes.
            #expect(try await usage.retire(keepingDays: 30) == (0, 0))
            let chart = "/v1/servers/\(id)/usage?since=\(iso(test.clock.now.addingTimeInterval(-60)))&until=\(iso(test.clock.now))"
            #expect((try await client.call(.get, chart, token: session)["samples"] as? [Any])?.count == 2)

            test.clock.advance(31 * 86_400)
            let (samples, logLines) = try await usage.retire(keepingDays: 30)
            #expect(samples == 2)
            #expect(logLines >= 3)
            #expect((try await client.call(.get, chart, token: reader)["samples"] as? [Any])?.isEmpty == true)
            let logs = try await client.call(.get, "/v1/servers/\(id)/logs", token: reader)["lines"] as? [Any]
            #expect(logs?.isEmpty == true)
            let daily = try await test.plane.store.read { tx in try await tx.usage.dailyUsage() }
            #expect(daily.map(\.day) == [day])
            #expect(daily.first?.servers == 1)
            #expect(daily.first?.samples == 2)
            #expect(daily.first.map { $0.logLines >= 3 } == true)
            // Money and activity stay while the account lives.
            #expect(try await test.plane.store.read { tx in try await tx.ledger.ledgerBalance(serverID: id) } == before)
            #expect(try await client.activity(reader).count == activity)
            // A second pass finds nothing more and adds nothing.
            #expect(try await usage.retire(keepingDays: 30) == (0, 0))
            #expect(try await test.plane.store.read { tx in try await tx.usage.dailyUsage() } == daily)
        }
    }

    func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false)) }
}
