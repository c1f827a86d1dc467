import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// What runs printed is kept within a bound per server, on both engines: the newest runs keep
/// their output, older ones lose it and say so; other servers' runs are untouched.
@Suite(.tags(.postgres), .needs(.postgres)) struct RunOutputStoreTests {
    func run(_ server: Server, at seconds: Int, output: String) -> Run {
        Run(id: RandomToken.id(.run), serverID: server.id, accountID: server.accountID, kind: Run.exec, command: "x",
            state: .exited, exitCode: 0, stdout: output, stderr: "", truncated: false,
            startedAt: Date(timeIntervalSince1970: 1_800_000_000 + Double(seconds)), finishedAt: nil)
    }

    @Test(arguments: Engine.allCases)
    func theNewestRunsKeepTheirOutputWithinTheServersBound(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let server = try await makeServer(store, account)
            let neighbour = try await makeServer(store, account)
            let sixMiB = String(repeating: "x", count: 6 << 20)
            let elsewhere = run(neighbour, at: 0, output: sixMiB)
            try await store.write { tx in try await tx.servers.insert(elsewhere) }
            var runs: [Run] = []
            for second in 0..<5 {
                let started = run(server, at: second, output: "")
                try await store.write { tx in try await tx.servers.insert(started) }
                var finished = started
                finished.stdout = sixMiB
                let saved = finished
                try await store.write { tx in try await tx.servers.update(saved) }
                runs.append(finished)
            }
            let ids = runs.map(\.id)
            let read = try await store.read { tx in
                var found: [Run] = []
                for id in ids { if let run = try await tx.servers.run(id: id, serverID: server.id) { found.append(run) } }
                return found
            }
            // 16 MiB hold the newest two (12 MiB); the third would pass it.
            #expect(read.map(\.stdout.count) == [0, 0, 0, 6 << 20, 6 << 20])
            #expect(read.map(\.truncated) == [true, true, true, false, false])
            let other = try await store.read { tx in try await tx.servers.run(id: elsewhere.id, serverID: neighbour.id) }
            #expect(other?.stdout.count == 6 << 20 && other?.truncated == false)
        }
    }

    @Test(arguments: Engine.allCases)
    func atMostAThousandRunsKeepTheirOutput(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let server = try await makeServer(store, account)
            let runs = (0...ServerLimits.runOutputsPerServer).map { run(server, at: $0, output: "line \($0)") }
            try await store.write { tx in for run in runs { try await tx.servers.insert(run) } }
            let last = try #require(runs.last)
            try await store.write { tx in try await tx.servers.update(last) }
            let (oldest, second, newest) = try await store.read { tx in
                (try await tx.servers.run(id: runs[0].id, serverID: server.id), try await tx.servers.run(id: runs[1].id, serverID: server.id),
                 try await tx.servers.run(id: last.id, serverID: server.id))
            }
            #expect(oldest?.stdout == "" && oldest?.truncated == true)
            #expect(second?.stdout == "line 1" && newest?.stdout == "line \(ServerLimits.runOutputsPerServer)")
        }
    }
}
