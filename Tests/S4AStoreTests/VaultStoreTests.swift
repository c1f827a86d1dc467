import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// The vault's rows on both engines: one secret per address (the version counts its sets),
/// the scopes kept apart, wrapped keys and the master key's fingerprint.
@Suite(.tags(.postgres), .needs(.postgres)) struct VaultStoreTests {
    @Test(arguments: Engine.allCases)
    func secretsUpsertByAddressAndKeysRoundTrip(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let project = Project(id: RandomToken.id(.project), accountID: account.id, name: "v", slug: unique("v"),
                                  visibility: .private, createdAt: Date(), updatedAt: Date())
            try await store.write { tx in try await tx.projects.insert(project) }
            @Sendable func record(_ server: String?, _ name: String, _ sealed: String) -> SecretRecord {
                SecretRecord(id: RandomToken.id(.secret), accountID: account.id,
                             address: SecretAddress(projectID: project.id, serverID: server, name: name), version: 1,
                             sealed: Data(sealed.utf8), valueBytes: sealed.count, createdAt: Date(), updatedAt: Date())
            }
            // One row (the database may be shared with other tests: set, then set again).
            let fingerprint = try await store.write { tx in
                try await tx.vault.setVaultFingerprint("f1")
                try await tx.vault.setVaultFingerprint("f2")
                return try await tx.vault.vaultFingerprint()
            }
            #expect(fingerprint == "f2")
            try await store.write { tx in
                try await tx.vault.insertWrappedDataKey(projectID: project.id, wrapped: Data([1, 2, 3]), at: Date())
                try await tx.vault.updateWrappedDataKey(projectID: project.id, WrappedDataKey(wrapped: Data([4, 5]), version: 2))
                try await tx.vault.upsert(record(nil, "TOKEN", "one"))
                try await tx.vault.upsert(record(nil, "TOKEN", "two"))
                try await tx.vault.upsert(record("srv_a", "TOKEN", "server"))
                try await tx.vault.upsert(record("srv_b", "OTHER", "b"))
            }
            try await store.read { tx in
                let wrapped = try await tx.vault.wrappedDataKey(projectID: project.id)
                #expect(wrapped == WrappedDataKey(wrapped: Data([4, 5]), version: 2))
                let all = try await tx.vault.wrappedDataKeys()
                #expect(all.map(\.projectID).contains(project.id))
                let projectScope = try await tx.vault.secret(SecretAddress(projectID: project.id, serverID: nil, name: "TOKEN"))
                #expect(projectScope?.version == 2)
                #expect(projectScope?.sealed == Data("two".utf8))
                let forA = try await tx.vault.secrets(projectID: project.id, serverID: "srv_a")
                #expect(forA.map { "\($0.address.serverID ?? "-")/\($0.address.name)" }.sorted() == ["-/TOKEN", "srv_a/TOKEN"])
                let every = try await tx.vault.secrets(projectID: project.id, serverID: nil)
                #expect(every.count == 3)
            }
            try await store.write { tx in
                try await tx.vault.deleteSecrets(serverID: "srv_a")
                try await tx.vault.deleteSecret(SecretAddress(projectID: project.id, serverID: nil, name: "TOKEN"))
            }
            let left = try await store.read { tx in try await tx.vault.secrets(projectID: project.id, serverID: nil) }
            #expect(left.map(\.address.name) == ["OTHER"])
            // A project's deletion takes its data key and secrets with it.
            try await store.write { tx in try await tx.projects.deleteProject(id: project.id) }
            let (key, rows) = try await store.read { tx in
                (try await tx.vault.wrappedDataKey(projectID: project.id), try await tx.vault.secrets(projectID: project.id, serverID: nil))
            }
            #expect(key == nil && rows.isEmpty)
        }
    }
}

@Suite(.tags(.postgres), .needs(.postgres)) struct MasterKeyRotationTests {
    /// Rotation re-wraps every data key in one transaction: the new key opens them, the old
    /// one no longer does. SQLite only: rotation touches every project of a database, and the
    /// PostgreSQL one is shared by concurrent tests (the SQL it runs is covered above on both).
    @Test(arguments: [Engine.sqlite])
    func rotationRewrapsEveryDataKey(engine: Engine) async throws {
        try await engine.withStore { store in
            let old = MasterKey.generate(), new = MasterKey.generate()
            let account = try await makeAccount(store)
            let project = Project(id: RandomToken.id(.project), accountID: account.id, name: "r", slug: unique("r"),
                                  visibility: .private, createdAt: Date(), updatedAt: Date())
            try await store.write { tx in
                try await tx.projects.insert(project)
                try await tx.vault.setVaultFingerprint(old.fingerprint)
                try await tx.vault.insertWrappedDataKey(projectID: project.id,
                                                  wrapped: try Envelope.newDataKey(projectID: project.id, master: old).wrapped, at: Date())
            }
            // A version 2 key too, bound to its project's shred key, which rotation keeps.
            let keyring = try ProjectKeyDirectory(path: FileManager.default.temporaryDirectory
                .appendingPathComponent("s4a-keys-\(UUID().uuidString)").path)
            defer { try? FileManager.default.removeItem(atPath: keyring.path) }
            let second = Project(id: RandomToken.id(.project), accountID: account.id, name: "r2", slug: unique("r"),
                                 visibility: .private, createdAt: Date(), updatedAt: Date())
            let shred = try keyring.createShredKey(projectID: second.id)
            let dek = try Envelope.newDataKey(projectID: second.id, master: old).key
            let address = SecretAddress(projectID: second.id, serverID: nil, name: "A")
            let sealed = try Envelope.sealValue("value", key: dek, address: address)
            try await store.write { tx in
                try await tx.projects.insert(second)
                try await tx.vault.insertWrappedDataKey(projectID: second.id, WrappedDataKey(
                    wrapped: try Envelope.wrap(dek, projectID: second.id, master: old, shredKey: shred), version: 2), at: Date())
            }
            await #expect(throws: DomainError.self) {
                _ = try await SecretService.rotateMasterKey(store: store, keyring: keyring, from: new, to: old)
            }
            #expect(try await SecretService.rotateMasterKey(store: store, keyring: keyring, from: old, to: new) >= 2)
            let wrapped = try #require(try await store.read { tx in try await tx.vault.wrappedDataKey(projectID: project.id) })
            #expect(wrapped.version == 1)
            #expect(throws: VaultError.cannotOpen) { try Envelope.unwrap(wrapped.wrapped, projectID: project.id, master: old) }
            _ = try Envelope.unwrap(wrapped.wrapped, projectID: project.id, master: new)
            let rewrapped = try #require(try await store.read { tx in try await tx.vault.wrappedDataKey(projectID: second.id) })
            #expect(rewrapped.version == 2)
            let opened = try Envelope.unwrap(rewrapped.wrapped, projectID: second.id, master: new, shredKey: shred)
            #expect(try Envelope.openValue(sealed, key: opened, address: address) == "value")
            #expect(throws: VaultError.cannotOpen) {
                try Envelope.unwrap(rewrapped.wrapped, projectID: second.id, master: old, shredKey: shred)
            }
            #expect(try await store.read { tx in try await tx.vault.vaultFingerprint() } == new.fingerprint)
        }
    }
}
