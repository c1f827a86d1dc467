import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// The server services' logic over a real SQLite store and the in-memory runtime: lifecycle,
/// what the metering round makes of a lease that ran out or a container that died, reconcile,
/// and the runtime failing underneath. Runs in seconds, without root or runc.
@Suite struct ServerLifecycleTests {
    struct World {
        let store: SQLStore
        let runtime: FakeContainerRuntime
        let servers: ServerService
        let budgets: BudgetService
        let secrets: SecretService
        let clock: ManualClock
        /// The SQLite file and its -wal and -shm beside it.
        let directory: URL
        let principal: Principal
        let projectID: String

        func create(_ name: String = "web", budget: Int64 = 1_000_000) async throws -> Server {
            try await servers.create(principal, NewServer(projectID: projectID, name: name, memoryMB: 64, diskMB: 64,
                                                          budget: MicroDollars(budget)))
        }

        func reload(_ id: String) async throws -> Server { try await servers.get(principal, id: id) }

        /// The activity recorded about one server.
        func activity(_ id: String) async throws -> [ActivityRecord] {
            try await store.read { tx in try await tx.activity.activity(ActivityQuery(accountID: principal.accountID, limit: 100)).items }
                .map(\.record).filter { $0.target.id == id }
        }
    }

    static func withWorld(_ body: (World) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-svc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await SQLStore.open(url: nil, sqlitePath: directory.appendingPathComponent("s4a.sqlite").path,
                                            auditKeys: try AuditKeys(master: MasterKey.generate()))
        let clock = ManualClock()
        let env = DomainEnvironment(store: store, settings: DomainSettings(), now: { clock.now })
        let runtime = FakeContainerRuntime(now: { clock.now })
        let budgets = BudgetService(env: env, runtime: runtime, settings: BudgetSettings())
        let keys = directory.appendingPathComponent("project-keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        let secrets = SecretService(env: env, master: MasterKey.generate(), keyring: try ProjectKeyDirectory(path: keys.path))
        let servers = ServerService(env: env, runtime: runtime, secrets: secrets, budgets: budgets)
        let now = clock.now
        let account = Account(id: RandomToken.id(.account), email: "svc-\(UUID().uuidString.prefix(8))@example.com", passwordHash: "x",
                              createdAt: now)
        try await store.write { tx in try await tx.accounts.insert(account) }
        let principal = Principal(accountID: account.id, credential: .session(
            Session(id: "ses_test", accountID: account.id, tokenHash: "h", createdAt: now, expiresAt: now + 3600)))
        let project = try await ProjectService(env: env).create(principal, name: "Svc", slug: nil)
        do {
            try await body(World(store: store, runtime: runtime, servers: servers, budgets: budgets, secrets: secrets, clock: clock,
                                 directory: directory, principal: principal, projectID: project.id))
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    @Test func aServerLivesItsLifeAndTheRuntimeFollows() async throws {
        try await Self.withWorld { world in
            let server = try await world.create()
            #expect(server.state == .running)
            #expect(world.runtime.server(server.id)?.running == true)
            // Its keeper holds a deadline: the whole budget's worth (or the horizon), never nothing.
            #expect((world.runtime.server(server.id)?.leaseDeadline ?? .distantPast) > Date())
            #expect(try await world.servers.stop(world.principal, id: server.id).state == .stopped)
            #expect(world.runtime.server(server.id)?.running == false)
            #expect(try await world.servers.start(world.principal, id: server.id).state == .running)
            try await world.servers.delete(world.principal, id: server.id)
            #expect(world.runtime.server(server.id) == nil)
            let actions = try await world.activity(server.id).map(\.action)
            for action in [Action.serverCreated, Action.serverStopped, Action.serverStarted, Action.serverDeleted] {
                #expect(actions.contains(action), "missing \(action) in \(actions)")
            }
            let stop = try await world.activity(server.id).first { $0.action == Action.serverStopped }
            #expect(stop?.metadata["reason"] == "requested")
        }
    }

    @Test func aRuntimeThatCannotStartLeavesAFailedServerAndNoContainerRunning() async throws {
        try await Self.withWorld { world in
            world.runtime.fail(.start)
            await #expect(throws: DomainError.self) { _ = try await world.create() }
            let server = try #require(try await world.servers.list(world.principal, projectID: world.projectID, cursor: nil, limit: 10)
                .items.first)
            #expect(server.state == .failed)
            #expect(server.lastError?.contains("could not start") == true)
            #expect(world.runtime.server(server.id)?.running != true)
            // Healed, it starts again.
            world.runtime.heal(.start)
            #expect(try await world.servers.start(world.principal, id: server.id).state == .running)
        }
    }

    @Test func theMeteringRoundRecordsALeaseThatRanOutAndAContainerThatDied() async throws {
        try await Self.withWorld { world in
            // A small budget: its keeper's deadline is where the budget ends. A large one: the
            // 30-day horizon comes first, so a lease that ran out means the control plane was late.
            let spent = try await world.create("spent", budget: 1_000_000)
            let late = try await world.create("late", budget: 10_000_000_000)
            let dead = try await world.create("dead")
            world.runtime.expireLease(spent.id)
            world.runtime.expireLease(late.id)
            world.runtime.die(dead.id, cause: "out of memory")
            let round = try await world.servers.enforceBudgets()
            #expect(round.ended == 2 && round.died == 1)
            let exhausted = try await world.reload(spent.id)
            #expect(exhausted.state == .exhausted && exhausted.lastError == "its budget is spent")
            let stopped = try await world.reload(late.id)
            #expect(stopped.state == .stopped && stopped.lastError == "its lease ran out before the control plane renewed it")
            #expect(try await world.activity(late.id).contains { $0.action == Action.serverStopped && $0.metadata["reason"] == stopped.lastError })
            let failed = try await world.reload(dead.id)
            #expect(failed.state == .failed && failed.lastError == "out of memory")
            #expect(try await world.activity(dead.id).contains { $0.action == Action.serverFailed && $0.metadata["reason"] == "out of memory" })
        }
    }

    @Test func reconcileAdoptsWhatRunsFailsWhatVanishedAndRemovesOrphans() async throws {
        try await Self.withWorld { world in
            let kept = try await world.create("kept")
            let vanished = try await world.create("vanished")
            world.runtime.lieAboutStatus(vanished.id, nil)
            // A container no server owns (left by a crash between the runtime and the store).
            try await world.runtime.prepare(ContainerSpec(server: Server(
                id: "srv_orphan", projectID: world.projectID, accountID: world.principal.accountID, name: "o", template: "base",
                cpuMillis: 100, memoryMB: 64, diskMB: 64, pidsLimit: 64, budget: MicroDollars(1), network: .none, state: .running,
                uidSlot: 99, createdAt: Date(), updatedAt: Date())))
            let (adopted, failed, removed) = try await world.servers.reconcile()
            #expect(adopted == 1 && failed == 1)
            #expect(removed == ["container srv_orphan"])
            #expect(try await world.reload(kept.id).state == .running)
            let gone = try await world.reload(vanished.id)
            #expect(gone.state == .failed && gone.lastError == "its container vanished")
        }
    }

    @Test func aRuntimeThatCannotStopLeavesTheServerRunningAndSaysSo() async throws {
        try await Self.withWorld { world in
            let server = try await world.create()
            world.runtime.fail(.stop)
            await #expect(throws: (any Error).self) { _ = try await world.servers.stop(world.principal, id: server.id) }
            // Not recorded as stopped while its container may still run (and spend).
            #expect(try await world.reload(server.id).state == .running)
        }
    }

    @Test func aServerCannotSpendPastItsBudgetWhateverTimeDoes() async throws {
        try await Self.withWorld { world in
            let budget = MicroDollars(20_000)  // two cents
            let server = try await world.create("frugal", budget: budget.value)
            // Its keeper holds a deadline no later than where the budget ends.
            let first = try #require(world.runtime.server(server.id)?.leaseDeadline)
            // A year passes; every round only reserves what is left.
            for _ in 0..<3 {
                world.clock.advance(by: 120 * 24 * 3600)
                try await world.servers.enforceBudgets()
                let balance = try await world.budgets.balance(server)
                #expect(balance.charged.value + balance.reserved.value <= budget.value, "committed past the budget: \(balance)")
            }
            let deadline = try #require(world.runtime.server(server.id)?.leaseDeadline)
            #expect(deadline >= first && deadline < world.clock.now)
            // The watchdog stops it at that deadline; the round records it as spent.
            world.runtime.expireLease(server.id)
            try await world.servers.enforceBudgets()
            let spent = try await world.reload(server.id)
            #expect(spent.state == .exhausted)
            #expect(world.runtime.server(server.id)?.running == false)
            // Starting it again buys nothing and starts nothing.
            let starts = world.runtime.calls.filter { $0 == "start \(server.id)" }.count
            await #expect(throws: DomainError.self) { _ = try await world.servers.start(world.principal, id: server.id) }
            #expect(world.runtime.calls.filter { $0 == "start \(server.id)" }.count == starts)
            #expect(try await world.reload(server.id).state == .exhausted)
            let balance = try await world.budgets.balance(server)
            #expect(balance.charged <= budget && balance.reserved == MicroDollars(0))
        }
    }

    @Test func aDeployedAppGetsItsSecretsAtRunTimeAndTheStoreHoldsNoPlainValue() async throws {
        try await Self.withWorld { world in
            let server = try await world.create()
            let value = "tok-\(UUID().uuidString)"
            try await world.secrets.set(world.principal, projectID: world.projectID, serverID: nil, name: "APP_TOKEN", value: value)
            try await world.secrets.set(world.principal, projectID: nil, serverID: server.id, name: "MODE", value: "server-wins")
            try await world.secrets.set(world.principal, projectID: world.projectID, serverID: nil, name: "MODE", value: "project")
            let (_, status) = try await world.servers.deploy(world.principal, id: server.id,
                                                             NewDeployment(command: "python3 app.py", port: 8080, wait: false))
            let requests = world.runtime.processRequests(server.id)
            let app = try #require(requests.last)
            #expect(app.name == status.deployment.processName)
            #expect(app.env["APP_TOKEN"] == value)
            #expect(app.env["MODE"] == "server-wins")
            // Masked in its logs.
            #expect(app.masked.contains(value))
            // The database's files never hold the value in the clear.
            let files = try FileManager.default.contentsOfDirectory(atPath: world.directory.path).filter { $0.hasPrefix("s4a.sqlite") }
            #expect(!files.isEmpty)
            for file in files {
                let bytes = try Data(contentsOf: world.directory.appendingPathComponent(file))
                #expect(bytes.range(of: Data(value.utf8)) == nil, "\(file) holds the secret")
            }
            // A deploy to a stopped server is refused and spawns nothing.
            _ = try await world.servers.stop(world.principal, id: server.id)
            await #expect(throws: DomainError.self) {
                _ = try await world.servers.deploy(world.principal, id: server.id, NewDeployment(command: "true", wait: false))
            }
            #expect(world.runtime.processRequests(server.id).count == requests.count)
        }
    }

    @Test func aStopThatHangsHoldsOnlyItsOwnServer() async throws {
        try await Self.withWorld { world in
            let stuck = try await world.create("stuck")
            let other = try await world.create("other")
            world.runtime.hang(.stop)
            let stopping = Task { try await world.servers.stop(world.principal, id: stuck.id) }
            while !world.runtime.isWaiting(.stop) { try await Task.sleep(for: .milliseconds(5)) }
            // The other server is still served: read, exec'd into and (its stop aside) changed.
            #expect(try await world.reload(other.id).state == .running)
            #expect(try await world.servers.get(world.principal, id: stuck.id).state == .running)
            try await world.servers.enforceBudgets()
            world.runtime.heal(.stop)
            #expect(try await stopping.value.state == .stopped)
            #expect(try await world.servers.stop(world.principal, id: other.id).state == .stopped)
        }
    }

    @Test func aRuntimeThatSaysAStoppedServerRunsIsNotBelievedOverItsOwnStopCause() async throws {
        try await Self.withWorld { world in
            let server = try await world.create()
            world.runtime.die(server.id, cause: "killed by the kernel")
            world.runtime.lieAboutStatus(server.id, .running)
            // Reconcile sees a "running" container and keeps the server; the metering round
            // reads the stop cause and records the death, charging nothing past it.
            _ = try await world.servers.reconcile()
            let round = try await world.servers.enforceBudgets()
            #expect(round.died == 1)
            let failed = try await world.reload(server.id)
            #expect(failed.state == .failed && failed.lastError == "killed by the kernel")
        }
    }
}
