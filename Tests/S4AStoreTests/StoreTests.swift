import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

@Suite(.tags(.postgres), .needs(.postgres)) struct StoreTests {
    @Test(arguments: Engine.allCases)
    func migrationsAreIdempotent(engine: Engine) async throws {
        try await engine.withStore { _ in }
        try await engine.withStore { store in
            let versions = try await store.withDatabase { db in
                try await db.raw("SELECT version FROM schema_migrations").all().map { try $0.decode(column: "version", as: Int.self) }
            }
            #expect(versions.contains(1))
            #expect(Set(versions).count == versions.count)
        }
    }

    @Test(arguments: Engine.allCases)
    func accountsRoundTripAndEmailsAreUnique(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let found = try await store.read { tx in try await tx.accounts.account(email: account.email) }
            #expect(found == account)
            let twin = Account(id: RandomToken.id(.account), email: account.email, passwordHash: "y", createdAt: Date())
            await #expect(throws: UniqueViolation.self) { try await store.write { tx in try await tx.accounts.insert(twin) } }
            try await store.write { tx in try await tx.accounts.updatePasswordHash(accountID: account.id, hash: "new") }
            #expect(try await store.read { tx in try await tx.accounts.account(id: account.id) }?.passwordHash == "new")
        }
    }

    @Test(arguments: Engine.allCases)
    func aFailedTransactionLeavesNothing(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            struct Boom: Error {}
            let project = Project(id: RandomToken.id(.project), accountID: account.id, name: "n", slug: unique("s"),
                                  visibility: .private, createdAt: Date(), updatedAt: Date())
            await #expect(throws: Boom.self) {
                try await store.write { tx in
                    try await tx.projects.insert(project)
                    try await tx.activity.append(ActivityRecord(action: "project.created", actor: Actor(type: .account, id: account.id),
                                                       target: Target(type: "project", id: project.id)),
                                        accountID: account.id, at: Date())
                    throw Boom()
                }
            }
            #expect(try await store.read { tx in try await tx.projects.project(id: project.id, accountID: account.id) } == nil)
            #expect(try await store.read { tx in try await tx.activity.chain(accountID: account.id) }.isEmpty)
        }
    }

    @Test(arguments: Engine.allCases)
    func sessionsAndLoginFailures(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let sessions = (0..<3).map { index in
                Session(id: RandomToken.id(.session), accountID: account.id, tokenHash: unique("hash\(index)"),
                        createdAt: now, expiresAt: now + 60)
            }
            try await store.write { tx in for session in sessions { try await tx.accounts.insert(session) } }
            #expect(try await store.read { tx in try await tx.accounts.session(tokenHash: sessions[1].tokenHash) } == sessions[1])
            try await store.write { tx in try await tx.accounts.deleteSessions(accountID: account.id, except: sessions[0].id) }
            #expect(try await store.read { tx in try await tx.accounts.session(tokenHash: sessions[0].tokenHash) } != nil)
            #expect(try await store.read { tx in try await tx.accounts.session(tokenHash: sessions[2].tokenHash) } == nil)

            let key = unique("email")
            try await store.write { tx in
                for offset in [0.0, 10, 20] { try await tx.accounts.recordLoginFailure(key: key, at: now + offset, forgetBefore: now - 60) }
            }
            let (count, oldest) = try await store.read { tx in try await tx.accounts.loginFailures(key: key, since: now + 5) }
            #expect(count == 2)
            #expect(oldest == now + 10)
            // Recording forgets what is older than the window.
            try await store.write { tx in try await tx.accounts.recordLoginFailure(key: key, at: now + 30, forgetBefore: now + 15) }
            #expect(try await store.read { tx in try await tx.accounts.loginFailures(key: key, since: now - 60) }.count == 2)
            // An attempt recorded under its id is forgotten by that id alone, on every key it holds.
            let other = unique("addr")
            try await store.write { tx in
                for k in [key, other] { try await tx.accounts.recordLoginFailure(key: k, attemptID: "att_x", at: now + 40, forgetBefore: now + 15) }
            }
            #expect(try await store.read { tx in try await tx.accounts.loginFailures(key: key, since: now - 60) }.count == 3)
            try await store.write { tx in try await tx.accounts.forgetLoginAttempt(id: "att_x") }
            #expect(try await store.read { tx in try await tx.accounts.loginFailures(key: key, since: now - 60) }.count == 2)
            #expect(try await store.read { tx in try await tx.accounts.loginFailures(key: other, since: now - 60) }.count == 0)
        }
    }

    @Test(arguments: Engine.allCases)
    func apiKeysRoundTripPageAndRevoke(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let base = Date(timeIntervalSince1970: 1_800_000_000)
            var made: [APIKey] = []
            for index in 0..<5 {
                made.append(APIKey(id: RandomToken.id(.apiKey), accountID: account.id, parentKeyID: index == 0 ? nil : made[0].id,
                                   name: "k\(index)", tokenHash: unique("t"), prefix: "s4a_abcdefgh",
                                   scopes: [.projectsRead, .keysWrite], projectIDs: index.isMultiple(of: 2) ? nil : ["prj_a", "prj_b"],
                                   expiresAt: base + 3600, maxServerBudget: MicroDollars(12_345_678),
                                   createdAt: base + Double(index)))
            }
            let keys = made
            try await store.write { tx in for key in keys { try await tx.keys.insert(key) } }
            #expect(try await store.read { tx in try await tx.keys.apiKey(tokenHash: keys[1].tokenHash) } == keys[1])
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await store.read { [cursor] tx in try await tx.keys.apiKeys(accountID: account.id, cursor: cursor, limit: 2) }
                seen += page.items.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == keys.reversed().map(\.id))
            try await store.write { tx in try await tx.keys.revokeAPIKey(id: keys[2].id, at: base + 10) }
            let revoked = try await store.read { tx in try await tx.keys.apiKey(id: keys[2].id, accountID: account.id) }
            #expect(revoked?.revokedAt == base + 10)
            #expect(revoked?.isUsable(at: base) == false)
            #expect(try await store.read { tx in try await tx.keys.apiKey(id: keys[2].id, accountID: "acc_other") } == nil)
        }
    }

    @Test(arguments: Engine.allCases)
    func projectSlugsAreUniqueAndListsFilter(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let slug = unique("slug")
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let project = Project(id: RandomToken.id(.project), accountID: account.id, name: "A", slug: slug,
                                  visibility: .private, createdAt: now, updatedAt: now)
            try await store.write { tx in try await tx.projects.insert(project) }
            var copy = project
            copy.id = RandomToken.id(.project)
            let twin = copy
            await #expect(throws: UniqueViolation.self) { try await store.write { tx in try await tx.projects.insert(twin) } }
            let second = Project(id: RandomToken.id(.project), accountID: account.id, name: "B", slug: unique("slug"),
                                 visibility: .private, createdAt: now + 1, updatedAt: now + 1)
            try await store.write { tx in try await tx.projects.insert(second) }
            let only = try await store.read { tx in try await tx.projects.projects(accountID: account.id, only: [project.id], cursor: nil, limit: 10) }
            #expect(only.items.map(\.id) == [project.id])
            let none = try await store.read { tx in try await tx.projects.projects(accountID: account.id, only: [], cursor: nil, limit: 10) }
            #expect(none.items.isEmpty)
            var changed = project
            changed.visibility = .public
            changed.name = "A2"
            let updated = changed
            try await store.write { tx in try await tx.projects.update(updated) }
            #expect(try await store.read { tx in try await tx.projects.project(slug: slug) } == updated)
            try await store.write { tx in try await tx.projects.deleteProject(id: project.id) }
            #expect(try await store.read { tx in try await tx.projects.project(slug: slug) } == nil)
        }
    }

    /// Concurrent writers of one account still produce one unbroken chain.
    @Test(arguments: Engine.allCases)
    func concurrentAppendsKeepTheChain(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<24 {
                    group.addTask {
                        try await store.write { tx in
                            try await tx.lockAccount(id: account.id)
                            try await tx.activity.append(ActivityRecord(action: "test.event", actor: Actor(type: .account, id: account.id),
                                                               target: Target(type: "test", id: "\(index)"), metadata: ["i": "\(index)"]),
                                                accountID: account.id, at: Date())
                        }
                    }
                }
                try await group.waitForAll()
            }
            let chain = try await store.read { tx in try await tx.activity.chain(accountID: account.id) }
            #expect(chain.count == 24)
            #expect(ActivityChain.verify(chain) == nil)
            let page = try await store.read { tx in
                try await tx.activity.activity(ActivityQuery(accountID: account.id, action: "test.event", limit: 10))
            }
            #expect(page.items.count == 10)
            #expect(page.items.first?.seq == 24)
            #expect(page.nextCursor != nil)
        }
    }

    @Test(arguments: Engine.allCases)
    func tamperingInTheDatabaseIsDetected(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            for index in 0..<3 {
                try await store.write { tx in
                    try await tx.activity.append(ActivityRecord(action: "project.created", actor: Actor(type: .account, id: account.id),
                                                       target: Target(type: "project", id: "prj_\(index)"), metadata: ["name": "P\(index)"]),
                                        accountID: account.id, at: Date())
                }
            }
            let before = try await store.read { tx in try await tx.activity.chain(accountID: account.id) }
            #expect(ActivityChain.verify(before) == nil)
            try await store.withDatabase { db in
                try await db.raw("UPDATE activity_events SET metadata = '{\"name\":\"forged\"}' WHERE account_id = \(bind: account.id) AND seq = 2").run()
            }
            let after = try await store.read { tx in try await tx.activity.chain(accountID: account.id) }
            #expect(ActivityChain.verify(after)?.eventID == before[1].id)
        }
    }

    @Test(arguments: Engine.allCases)
    func idempotencyRecordsArePendingThenComplete(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let record = IdempotencyRecord(id: unique("idem"), accountID: account.id, fingerprint: "f", status: nil,
                                           contentType: nil, sealedBody: nil, createdAt: Date(timeIntervalSince1970: 1_800_000_000))
            #expect(try await store.write { tx in try await tx.idempotency.insertPending(record) })
            #expect(try await store.write { tx in try await tx.idempotency.insertPending(record) } == false)
            try await store.write { tx in
                try await tx.idempotency.complete(idempotencyID: record.id, status: 201, contentType: "application/json", sealedBody: [1, 2, 3])
            }
            let done = try await store.read { tx in try await tx.idempotency.idempotencyRecord(id: record.id) }
            #expect(done?.status == 201)
            #expect(done?.sealedBody == [1, 2, 3])
            try await store.write { tx in try await tx.idempotency.deleteIdempotencyRecord(id: record.id) }
            #expect(try await store.read { tx in try await tx.idempotency.idempotencyRecord(id: record.id) } == nil)
        }
    }
}
