import Foundation
@testable import S4ADomain
import S4AStore
import SQLKit
import S4ATestSupport
import Testing

/// An account's deletion on both engines: after `deleteAccountRows` no column of any table
/// (every table the schema has, found at run time, so a later one is covered too) holds the
/// account's id, email, or an id of its projects, servers, keys, sessions or runs; another
/// account's rows stay.
@Suite(.tags(.postgres), .needs(.postgres)) struct AccountDeletionStoreTests {
    /// One row of everything an account can own.
    func populate(_ store: SQLStore) async throws -> (Account, [String]) {
        let account = try await makeAccount(store)
        let now = Date()
        let project = Project(id: RandomToken.id(.project), accountID: account.id, name: "d", slug: unique("d"),
                              visibility: .private, createdAt: now, updatedAt: now)
        let server = Server(id: RandomToken.id(.server), projectID: project.id, accountID: account.id, name: "s",
                            template: "base", cpuMillis: 1000, memoryMB: 512, diskMB: 64, pidsLimit: 512,
                            budget: MicroDollars(1_000), network: .none, state: .running,
                            uidSlot: Int.random(in: 100_000...100_000_000), createdAt: now, updatedAt: now)
        let session = Session(id: RandomToken.id(.session), accountID: account.id, tokenHash: unique("sh"), createdAt: now,
                              expiresAt: now + 60)
        let key = APIKey(id: RandomToken.id(.apiKey), accountID: account.id, parentKeyID: nil, name: "k", tokenHash: unique("kh"),
                         prefix: "s4a_abcdefgh", scopes: [.projectsRead], projectIDs: nil, expiresAt: nil, maxServerBudget: nil,
                         createdAt: now)
        let run = Run(id: RandomToken.id(.run), serverID: server.id, accountID: account.id, kind: "exec", command: "true",
                      state: .exited, exitCode: 0, stdout: "", stderr: "", truncated: false, startedAt: now, finishedAt: now)
        let lease = Lease(id: RandomToken.id(.lease), serverID: server.id, accountID: account.id, startedAt: now,
                          deadline: now + 5, reserved: MicroDollars(10))
        let deployment = Deployment(id: RandomToken.id(.deployment), serverID: server.id, accountID: account.id, command: "app",
                                    port: 8080, healthPath: nil, restart: .always, createdAt: now)
        let export = ExportLink(id: RandomToken.id(.export), accountID: account.id, tokenHash: unique("eh"), includeFiles: false,
                                createdAt: now, expiresAt: now + 900)
        try await store.write { tx in
            try await tx.projects.insert(project)
            try await tx.servers.insert(server)
            try await tx.accounts.insert(session)
            try await tx.keys.insert(key)
            try await tx.servers.insert(run)
            try await tx.ledger.insert(lease)
            // (inserting the lease wrote its reserve entry to the ledger)
            try await tx.usage.insert([UsageSample(serverID: server.id, accountID: account.id, at: now, cpuMicros: 1, memoryBytes: 1,
                                             pids: 1, diskBytes: 1, networkReceivedBytes: 0, networkSentBytes: 0,
                                             charged: MicroDollars(1))])
            try await tx.deployments.insert(deployment)
            try await tx.health.insert([HealthProbe(serverID: server.id, projectID: project.id, deploymentID: deployment.id, at: now,
                                             healthy: true, milliseconds: 1, detail: "ok")])
            try await tx.health.insert(Incident(id: RandomToken.id(.incident), projectID: project.id, serverID: server.id,
                                         accountID: account.id, startedAt: now, reason: "down"))
            try await tx.vault.insertWrappedDataKey(projectID: project.id, WrappedDataKey(wrapped: Data([1, 2]), version: 2), at: now)
            try await tx.vault.upsert(SecretRecord(id: RandomToken.id(.secret), accountID: account.id,
                                             address: SecretAddress(projectID: project.id, serverID: server.id, name: "A"),
                                             version: 1, sealed: Data([3]), valueBytes: 1, createdAt: now, updatedAt: now))
            try await tx.exports.insert(export)
            try await tx.logDrains.insert(LogDrain(id: RandomToken.id(.logDrain), accountID: account.id, projectID: project.id,
                                         url: "https://drain.example/in", kinds: [.logs], sealedSecret: Data([4]), createdAt: now,
                                         progress: DrainProgress(logsAfter: now)))
            _ = try await tx.idempotency.insertPending(IdempotencyRecord(id: unique("idem"), accountID: account.id, fingerprint: "f",
                                                             status: nil, contentType: nil, sealedBody: nil, createdAt: now))
            try await tx.accounts.recordLoginFailure(key: AccountService.throttleKey(email: account.email), at: now, forgetBefore: now - 60)
            try await tx.accounts.recordLoginFailure(key: AccountService.reauthKey(accountID: account.id), at: now, forgetBefore: now - 60)
            try await tx.activity.append(ActivityRecord(action: "project.created", actor: Actor(type: .account, id: account.id),
                                               target: Target(type: "project", id: project.id), projectID: project.id),
                                accountID: account.id, at: now)
        }
        return (account, [account.id, account.email, project.id, server.id, session.id, key.id, run.id, lease.id,
                          deployment.id, export.id, AccountService.throttleKey(email: account.email),
                          AccountService.reauthKey(accountID: account.id)])
    }

    /// `table.column` for every column of every table holding `needle`.
    func cellsHolding(_ needle: String, in store: SQLStore) async throws -> [String] {
        try await store.withDatabase { db in
            let postgres = store.engineName == "postgres"
            let tables = try await db.raw(postgres
                ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema()"
                : "SELECT name FROM sqlite_master WHERE type = 'table'").all().map { try $0.decode(column: "name", as: String.self) }
            var hits: [String] = []
            for table in tables {
                let columns = try await db.raw(postgres
                    ? "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = \(bind: table)"
                    : "SELECT name FROM pragma_table_info(\(bind: table))").all().map { try $0.decode(column: "name", as: String.self) }
                for column in columns {
                    let count = try await db.raw("""
                        SELECT COUNT(*) AS n FROM \(ident: table) WHERE CAST(\(ident: column) AS TEXT) LIKE \(bind: "%" + needle + "%")
                        """).first()?.decode(column: "n", as: Int.self) ?? 0
                    if count > 0 { hits.append("\(table).\(column)") }
                }
            }
            return hits
        }
    }

    @Test(arguments: Engine.allCases)
    func deletingAnAccountLeavesNoRowNamingIt(engine: Engine) async throws {
        try await engine.withStore { store in
            let (account, needles) = try await populate(store)
            let (bystander, _) = try await populate(store)
            // The test can fail: before deletion every needle is found.
            for needle in needles { #expect(try await !cellsHolding(needle, in: store).isEmpty, "\(needle) was never stored") }

            try await store.write { tx in
                try await tx.accountDeletion.markAccountDeleting(id: account.id, at: Date())
                #expect(try await tx.accountDeletion.accountsBeingDeleted().contains(account.id))
                try await tx.accountDeletion.deleteAccountRows(accountID: account.id, email: account.email)
            }
            for needle in needles { #expect(try await cellsHolding(needle, in: store) == [], "\(needle) is still stored") }
            #expect(try await store.read { tx in try await tx.accountDeletion.accountsBeingDeleted() }.contains(account.id) == false)
            #expect(try await store.read { tx in try await tx.accounts.account(id: bystander.id) } != nil)
            #expect(try await store.read { tx in try await tx.projects.projectIDs(accountID: bystander.id) }.count == 1)
        }
    }

    @Test(arguments: Engine.allCases)
    func anExportLinkWorksOnceAndNotAfterItExpires(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let now = Date()
            let live = ExportLink(id: RandomToken.id(.export), accountID: account.id, tokenHash: unique("live"),
                                  includeFiles: true, createdAt: now, expiresAt: now + 900)
            let stale = ExportLink(id: RandomToken.id(.export), accountID: account.id, tokenHash: unique("stale"),
                                   includeFiles: false, createdAt: now - 1000, expiresAt: now - 100)
            try await store.write { tx in
                try await tx.exports.insert(live)
                try await tx.exports.insert(stale)
            }
            let claimed = try await store.write { tx in try await tx.exports.claimExport(tokenHash: live.tokenHash, at: now) }
            #expect(claimed?.id == live.id && claimed?.accountID == account.id && claimed?.includeFiles == true)
            #expect(try await store.write { tx in try await tx.exports.claimExport(tokenHash: live.tokenHash, at: now) } == nil)
            #expect(try await store.write { tx in try await tx.exports.claimExport(tokenHash: stale.tokenHash, at: now) } == nil)
        }
    }
}
