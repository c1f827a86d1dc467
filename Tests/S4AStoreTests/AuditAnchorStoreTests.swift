import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// The anchored audit trail against someone who can rewrite the database but holds neither the
/// master key nor the checkpoint file: truncation, deletion of a whole chain, a rewrite with
/// the plain chain recomputed, and one with forged MACs too, are each caught with their reason,
/// on both engines.
@Suite(.tags(.postgres), .needs(.postgres)) struct AuditAnchorStoreTests {
    struct Setup {
        let store: SQLStore
        let account: Account
        let anchor: AuditAnchor
        let file: CheckpointFile
        let keys: AuditKeys
    }

    /// An account with five events, anchored by one checkpoint round.
    func anchored(_ store: SQLStore, _ body: (Setup) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-anchor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let keys = try AuditKeys(master: Engine.masterKey)
        let file = CheckpointFile.inDataDirectory(directory.path)
        let account = try await makeAccount(store)
        try await append(store, account, count: 5)
        let anchor = AuditAnchor(store: store, keys: keys, file: file)
        _ = try await anchor.checkpoint()
        #expect(try file.read(keys: keys).heads[account.id]?.seq == 5)
        try await body(Setup(store: store, account: account, anchor: anchor, file: file, keys: keys))
    }

    func append(_ store: SQLStore, _ account: Account, count: Int) async throws {
        for index in 0..<count {
            try await store.write { tx in
                try await tx.lockAccount(id: account.id)
                try await tx.activity.append(ActivityRecord(action: "project.created", actor: Actor(type: .account, id: account.id),
                                                   target: Target(type: "project", id: "prj_\(index)"), metadata: ["name": "P\(index)"]),
                                    accountID: account.id, at: Date())
            }
        }
    }

    /// What `s4a activity verify` finds for this account.
    func findings(_ s: Setup) async throws -> [AuditFinding] {
        let chain = try await s.store.read { tx in try await tx.activity.chain(accountID: s.account.id) }
        let log = try s.file.read(keys: s.keys)
        // As the command does: the chains there are, then the checkpointed accounts without one.
        guard chain.isEmpty else { return AuditVerification.check(chain, keys: s.keys, checkpoint: log.heads[s.account.id]) }
        return AuditVerification.missing(log, accountsWithEvents: []).filter { $0.accountID == s.account.id }
    }

    /// What the next checkpoint round says about this account, and that it anchored nothing new.
    func roundRefuses(_ s: Setup, _ check: AuditFinding.Check) async throws {
        let round = try await s.anchor.checkpoint()
        #expect(round.findings.filter { $0.accountID == s.account.id }.map(\.check) == [check])
        #expect(try s.file.read(keys: s.keys).heads[s.account.id]?.seq == 5)
    }

    @Test(arguments: Engine.allCases)
    func anUntouchedChainVerifiesAndMovesItsCheckpoint(engine: Engine) async throws {
        try await engine.withStore { store in
            try await anchored(store) { s in
                #expect(try await findings(s).isEmpty)
                let chain = try await store.read { tx in try await tx.activity.chain(accountID: s.account.id) }
                #expect(chain.allSatisfy { s.keys.macMatches($0) })
                try await append(store, s.account, count: 2)
                let round = try await s.anchor.checkpoint()
                #expect(!round.findings.contains { $0.accountID == s.account.id })
                #expect(try s.file.read(keys: s.keys).heads[s.account.id]?.seq == 7)
                #expect(try await findings(s).isEmpty)
                #expect(try await s.anchor.latest(accountID: s.account.id)?.seq == 7)
            }
        }
    }

    @Test(arguments: Engine.allCases)
    func deletingTheLastEventsIsSeenAsTruncation(engine: Engine) async throws {
        try await engine.withStore { store in
            try await anchored(store) { s in
                try await store.withDatabase { db in
                    try await db.raw("DELETE FROM activity_events WHERE account_id = \(bind: s.account.id) AND seq > 3").run()
                }
                let found = try await findings(s)
                #expect(found.map(\.check) == [.truncated])
                #expect(found.first?.seq == 5)
                try await roundRefuses(s, .truncated)
            }
        }
    }

    @Test(arguments: Engine.allCases)
    func deletingAllOfAnAccountsEventsIsSeen(engine: Engine) async throws {
        try await engine.withStore { store in
            try await anchored(store) { s in
                try await store.withDatabase { db in
                    try await db.raw("DELETE FROM activity_events WHERE account_id = \(bind: s.account.id)").run()
                }
                let found = try await findings(s)
                #expect(found.map(\.check) == [.missingAccount])
                #expect(found.first?.accountID == s.account.id)
                try await roundRefuses(s, .missingAccount)
            }
        }
    }

    /// Event 3 edited, then every later hash recomputed as anyone with the database can;
    /// `forgeMACs` also rewrites the MAC column with a key that is not the master key's.
    func rewrite(_ s: Setup, forgeMACs: Bool) async throws -> String {
        var events = try await s.store.read { tx in try await tx.activity.chain(accountID: s.account.id) }
        events[2].record.metadata["name"] = "forged"
        let attacker = try AuditKeys(master: MasterKey.generate())
        for i in 2..<events.count {
            let e = events[i]
            events[i].prevHash = events[i - 1].hash
            events[i].hash = ActivityChain.hash(accountID: e.accountID, seq: e.seq, id: e.id, at: e.at, record: e.record,
                                                prevHash: events[i].prevHash)
            events[i].mac = forgeMACs ? attacker.mac(events[i]) : e.mac
        }
        let rewritten = Array(events[2...])
        try await s.store.withDatabase { db in
            for e in rewritten {
                let metadata = String(decoding: try JSONEncoder().encode(e.record.metadata), as: UTF8.self)
                try await db.raw("""
                    UPDATE activity_events SET metadata = \(bind: metadata), prev_hash = \(bind: e.prevHash),
                                               hash = \(bind: e.hash), mac = \(bind: e.mac) WHERE id = \(bind: e.id)
                    """).run()
            }
        }
        let stored = try await s.store.read { tx in try await tx.activity.chain(accountID: s.account.id) }
        #expect(ActivityChain.verify(stored) == nil)  // the plain chain alone is fooled
        #expect(stored[2].record.metadata["name"] == "forged")
        return events[2].id
    }

    @Test(arguments: Engine.allCases)
    func aRewriteWithTheChainRecomputedFailsItsMAC(engine: Engine) async throws {
        try await engine.withStore { store in
            try await anchored(store) { s in
                let edited = try await rewrite(s, forgeMACs: false)
                let found = try await findings(s)
                #expect(found.map(\.check) == [.mac, .rewritten])
                #expect(found.first?.seq == 3 && found.first?.eventID == edited)
                #expect(found.last?.seq == 5)
                try await roundRefuses(s, .rewritten)
            }
        }
    }

    @Test(arguments: Engine.allCases)
    func aRewriteWithForgedMACsFailsToo(engine: Engine) async throws {
        try await engine.withStore { store in
            try await anchored(store) { s in
                let edited = try await rewrite(s, forgeMACs: true)
                let found = try await findings(s)
                #expect(found.map(\.check) == [.mac, .rewritten])
                #expect(found.first?.eventID == edited)
            }
        }
    }

    /// Past the last checkpoint only the MACs stand guard: a rewrite there is still caught, and
    /// the round does not anchor it.
    @Test(arguments: Engine.allCases)
    func eventsAfterTheLastCheckpointAreNotAnchoredUnlessTheyCheckOut(engine: Engine) async throws {
        try await engine.withStore { store in
            try await anchored(store) { s in
                try await append(store, s.account, count: 1)
                try await store.withDatabase { db in
                    try await db.raw("UPDATE activity_events SET mac = NULL WHERE account_id = \(bind: s.account.id) AND seq = 6").run()
                }
                try await roundRefuses(s, .mac)
                #expect(try await findings(s).map(\.check) == [.mac])
            }
        }
    }

    @Test(arguments: Engine.allCases)
    func anAccountDeletedOnPurposeLeavesNoFinding(engine: Engine) async throws {
        try await engine.withStore { store in
            try await anchored(store) { s in
                try await s.anchor.accountDeleted(s.account.id)
                try await store.withDatabase { db in
                    try await db.raw("DELETE FROM activity_events WHERE account_id = \(bind: s.account.id)").run()
                }
                let log = try s.file.read(keys: s.keys)
                #expect(log.deleted.contains(s.account.id))
                #expect(AuditVerification.missing(log, accountsWithEvents: []).filter { $0.accountID == s.account.id }.isEmpty)
                let round = try await s.anchor.checkpoint()
                #expect(!round.findings.contains { $0.accountID == s.account.id })
            }
        }
    }

    /// The migration that added MACs seals the events already there, once, and only under the
    /// vault's own key. (SQLite only: it drops the column, which would disturb a shared server.)
    @Test func theMigrationSealsExistingEventsUnderTheVaultKeyOnly() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-mac-migration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("s4a.sqlite").path
        let master = MasterKey.generate()
        let keys = try AuditKeys(master: master)
        func withStore(_ keys: AuditKeys, _ body: (SQLStore) async throws -> Void) async throws {
            let store = try await SQLStore.open(url: nil, sqlitePath: path, auditKeys: keys)
            do { try await body(store) } catch {
                await store.close()
                throw error
            }
            await store.close()
        }
        var account: Account?
        try await withStore(keys) { store in
            try await SecretService.checkMasterKey(master, store: store)
            let made = try await makeAccount(store)
            account = made
            try await append(store, made, count: 3)
            // Back to before the migration: no column, not applied.
            try await store.withDatabase { db in
                try await db.raw("ALTER TABLE activity_events DROP COLUMN mac").run()
                try await db.raw("DELETE FROM schema_migrations WHERE version = 11").run()
            }
        }
        let accountID = try #require(account?.id)
        let wrong = try AuditKeys(master: MasterKey.generate())
        await #expect(throws: DomainError.self) { try await withStore(wrong) { _ in } }
        try await withStore(keys) { store in
            let chain = try await store.read { tx in try await tx.activity.chain(accountID: accountID) }
            #expect(chain.count == 3 && chain.allSatisfy { keys.macMatches($0) })
            #expect(AuditVerification.check(chain, keys: keys, checkpoint: nil).isEmpty)
        }
    }

    /// A master key rotation re-seals the MACs that hold under the old key, and only those: a
    /// rotation must not launder an event forged in between. (SQLite only: it re-seals every
    /// chain of the store, which on a shared server would be other tests' too.)
    @Test func rotatingTheMasterKeyReSealsOnlyGenuineEvents() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-mac-rotation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (old, new) = (MasterKey.generate(), MasterKey.generate())
        let store = try await SQLStore.open(url: nil, sqlitePath: directory.appendingPathComponent("s4a.sqlite").path,
                                            auditKeys: try AuditKeys(master: old))
        do {
            try await SecretService.checkMasterKey(old, store: store)
            let account = try await makeAccount(store)
            try await append(store, account, count: 4)
            try await store.withDatabase { db in
                try await db.raw("UPDATE activity_events SET mac = \(bind: String(repeating: "0", count: 64)) WHERE account_id = \(bind: account.id) AND seq = 2").run()
            }
            let keyring = try ProjectKeyDirectory(path: directory.appendingPathComponent("project-keys").path)
            _ = try await SecretService.rotateMasterKey(store: store, keyring: keyring, from: old, to: new)
            let chain = try await store.read { tx in try await tx.activity.chain(accountID: account.id) }
            let newKeys = try AuditKeys(master: new)
            #expect(chain.map { newKeys.macMatches($0) } == [true, false, true, true])
            #expect(AuditVerification.check(chain, keys: newKeys, checkpoint: nil).map(\.seq) == [2])
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}
