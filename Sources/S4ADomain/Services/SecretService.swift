import Crypto
import Foundation

/// A secret as the API shows it: never its value.
public struct SecretInfo: Sendable, Equatable {
    public var name: String
    /// `project` or `server`.
    public var scope: String
    public var serverID: String?
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date
}

/// Secrets: sealed under their project's data key (itself wrapped by the master key and the
/// project's shred key) and opened only to become environment variables of the processes a
/// server starts.
public struct SecretService: Sendable {
    let env: DomainEnvironment
    let master: MasterKey
    let keyring: any ProjectKeyring

    public init(env: DomainEnvironment, master: MasterKey, keyring: any ProjectKeyring) {
        self.env = env
        self.master = master
        self.keyring = keyring
    }

    /// Checks the master key against the fingerprint the data was sealed with; records it on
    /// first use. A wrong key stops the start before anything changes.
    public static func checkMasterKey(_ master: MasterKey, store: any Store) async throws {
        let known = try await store.read { tx in try await tx.vault.vaultFingerprint() }
        if let known {
            guard known == master.fingerprint else {
                throw DomainError(.forbidden, """
                    The master key (fingerprint \(master.fingerprint)) is not the one this data is sealed with \
                    (fingerprint \(known)). Start with the right --master-key-file or S4A_MASTER_KEY.
                    """)
            }
            return
        }
        let fingerprint = master.fingerprint
        try await store.write { tx in try await tx.vault.setVaultFingerprint(fingerprint) }
    }

    /// Sets a project secret (`serverID` nil) or a server secret.
    public func set(_ principal: Principal, projectID: String?, serverID: String?, name: String, value: String) async throws {
        try principal.check(.scope(.secretsWrite))
        try SecretRules.check(name: name)
        try SecretRules.check(value: value)
        let master = self.master, keyring = self.keyring
        let now = env.now()
        try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            let address = try await Self.address(tx, principal, projectID: projectID, serverID: serverID, name: name)
            let existing = try await tx.vault.secrets(projectID: address.projectID, serverID: nil)
            let others = existing.filter { $0.address != address }.map(\.valueBytes).reduce(0, +)
            guard others + value.utf8.count <= SecretRules.maxProjectBytes else {
                throw DomainError.unprocessable("value", "would take the project's secrets past 256 KiB together")
            }
            let key = try await Self.dataKey(tx, projectID: address.projectID, master: master, keyring: keyring,
                                             create: true, at: now)!
            let sealed = try Envelope.sealValue(value, key: key, address: address)
            let previous = existing.first { $0.address == address }
            try await tx.vault.upsert(SecretRecord(
                id: previous?.id ?? RandomToken.id(.secret), accountID: principal.accountID, address: address,
                version: (previous?.version ?? 0) + 1, sealed: sealed, valueBytes: value.utf8.count,
                createdAt: previous?.createdAt ?? now, updatedAt: now))
            try await tx.activity.append(
                ActivityRecord(action: Action.secretSet, actor: principal.actor,
                               target: Target(type: "secret", id: name), projectID: address.projectID,
                               metadata: ["name": name, "scope": address.scope, "server_id": address.serverID ?? ""]),
                accountID: principal.accountID, at: now)
        }
    }

    public func list(_ principal: Principal, projectID: String?, serverID: String?) async throws -> [SecretInfo] {
        try principal.check(.scope(.secretsWrite))
        return try await env.store.read { tx in
            let address = try await Self.address(tx, principal, projectID: projectID, serverID: serverID, name: "")
            return try await tx.vault.secrets(projectID: address.projectID, serverID: nil)
                .filter { $0.address.serverID == address.serverID }
                .map { SecretInfo(name: $0.address.name, scope: $0.address.scope, serverID: $0.address.serverID,
                                  version: $0.version, createdAt: $0.createdAt, updatedAt: $0.updatedAt) }
        }
    }

    public func delete(_ principal: Principal, projectID: String?, serverID: String?, name: String) async throws {
        try principal.check(.scope(.secretsWrite))
        let now = env.now()
        try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            let address = try await Self.address(tx, principal, projectID: projectID, serverID: serverID, name: name)
            guard try await tx.vault.secret(address) != nil else { throw DomainError(.notFound, "No such secret.") }
            try await tx.vault.deleteSecret(address)
            try await tx.activity.append(
                ActivityRecord(action: Action.secretDeleted, actor: principal.actor,
                               target: Target(type: "secret", id: name), projectID: address.projectID,
                               metadata: ["name": name, "scope": address.scope, "server_id": address.serverID ?? ""]),
                accountID: principal.accountID, at: now)
        }
    }

    /// The environment a process of `server` gets: the project's secrets overlaid by the
    /// server's. A value that fails to open (moved, altered, wrong key) is an error, never
    /// injected.
    public func environment(for server: Server) async throws -> [String: String] {
        let master = self.master, keyring = self.keyring
        return try await env.store.read { tx in
            let records = try await tx.vault.secrets(projectID: server.projectID, serverID: server.id)
            guard !records.isEmpty else { return [:] }
            guard let key = try await Self.dataKey(tx, projectID: server.projectID, master: master, keyring: keyring,
                                                   create: false, at: Date()) else {
                throw DomainError(.runtimeFailed, "The project's data key is missing; its secrets cannot be opened.")
            }
            var environment: [String: String] = [:]
            // Project scope first, then the server's over it.
            for record in records.sorted(by: { ($0.address.serverID != nil ? 1 : 0) < ($1.address.serverID != nil ? 1 : 0) }) {
                do {
                    environment[record.address.name] = try Envelope.openValue(record.sealed, key: key, address: record.address)
                } catch {
                    throw DomainError.failure(.runtimeFailed, "Secret \(record.address.name) cannot be opened. Set it again.", cause: error)
                }
            }
            return environment
        }
    }

    /// Rewraps every project data key under `newKey` in one transaction; values are untouched
    /// and each project keeps its shred key. In the same transaction every activity event whose
    /// MAC holds under the old key is sealed under the new one (one that does not hold stays
    /// wrong: a rotation launders nothing).
    public static func rotateMasterKey(store: any Store, keyring: any ProjectKeyring, from old: MasterKey,
                                       to newKey: MasterKey) async throws -> Int {
        try await checkMasterKey(old, store: store)
        let oldAudit = try AuditKeys(master: old)
        let newAudit = try AuditKeys(master: newKey)
        return try await store.write { tx in
            for accountID in try await tx.activity.accountIDsWithActivity() {
                for event in try await tx.activity.chain(accountID: accountID) where oldAudit.macMatches(event) {
                    try await tx.activity.setActivityMAC(eventID: event.id, mac: newAudit.mac(event))
                }
            }
            let keys = try await tx.vault.wrappedDataKeys()
            for (projectID, stored) in keys {
                let key = try unwrap(stored, projectID: projectID, master: old, keyring: keyring)
                var rewrapped = stored
                if stored.version == WrappedDataKey.shreddable, let shred = try keyring.shredKey(projectID: projectID) {
                    rewrapped.wrapped = try Envelope.wrap(key, projectID: projectID, master: newKey, shredKey: shred)
                } else {
                    rewrapped.wrapped = try Envelope.wrap(key, projectID: projectID, master: newKey)
                }
                try await tx.vault.updateWrappedDataKey(projectID: projectID, rewrapped)
            }
            try await tx.vault.setVaultFingerprint(newKey.fingerprint)
            return keys.count
        }
    }

    /// At start: gives every data key wrapped by the master key alone (from before shred keys) a
    /// shred key and rewraps it under both, so that deleting its project can shred it. The shred
    /// keys are written (and synced) before the rows that need them commit. Returns how many.
    /// A database backup taken before this ran still holds the old wraps.
    public static func upgradeDataKeys(store: any Store, master: MasterKey, keyring: any ProjectKeyring) async throws -> Int {
        try await store.write { tx in
            var count = 0
            for (projectID, stored) in try await tx.vault.wrappedDataKeys() where stored.version < WrappedDataKey.shreddable {
                let key = try Envelope.unwrap(stored.wrapped, projectID: projectID, master: master)
                let shred = try keyring.createShredKey(projectID: projectID)
                try await tx.vault.updateWrappedDataKey(projectID: projectID, WrappedDataKey(
                    wrapped: try Envelope.wrap(key, projectID: projectID, master: master, shredKey: shred),
                    version: WrappedDataKey.shreddable))
                count += 1
            }
            return count
        }
    }

    /// Crypto-shredding of projects: their wrapped data keys and sealed secrets are deleted in a
    /// committed transaction, then their shred keys are destroyed, so no copy of those wrapped
    /// keys (an old backup's included) opens again. Idempotent: a retry after a crash finishes it.
    public func shred(accountID: String, projectIDs: [String], actor: Actor) async throws {
        guard !projectIDs.isEmpty else { return }
        let now = env.now()
        try await env.store.write { tx in
            try await tx.lockAccount(id: accountID)
            for projectID in projectIDs {
                let had = try await tx.vault.wrappedDataKey(projectID: projectID) != nil
                try await tx.vault.deleteDataKeyAndSecrets(projectID: projectID)
                guard had else { continue }
                try await tx.activity.append(
                    ActivityRecord(action: Action.projectDataKeyDestroyed, actor: actor,
                                   target: Target(type: "project", id: projectID), projectID: projectID),
                    accountID: accountID, at: now)
            }
        }
        for projectID in projectIDs { try keyring.destroyShredKey(projectID: projectID) }
    }

    // MARK: Helpers

    /// The secret's address, if the principal may reach its project or server.
    static func address(_ tx: any StoreTransaction, _ principal: Principal, projectID: String?, serverID: String?,
                        name: String) async throws -> SecretAddress {
        if let serverID {
            let server = try await tx.reachableServer(serverID, by: principal)
            return SecretAddress(projectID: server.projectID, serverID: server.id, name: name)
        }
        guard let projectID else { throw DomainError(.notFound, "No such project.") }
        return SecretAddress(projectID: try await tx.reachableProject(projectID, by: principal).id, serverID: nil, name: name)
    }

    /// The project's data key within `tx` (made when `create` and there is none yet), for what
    /// else is sealed under it (log drains' signing secrets).
    func dataKey(_ tx: any StoreTransaction, projectID: String, create: Bool, at now: Date) async throws -> SymmetricKey? {
        try await Self.dataKey(tx, projectID: projectID, master: master, keyring: keyring, create: create, at: now)
    }

    static func dataKey(_ tx: any StoreTransaction, projectID: String, master: MasterKey, keyring: any ProjectKeyring,
                        create: Bool, at now: Date) async throws -> SymmetricKey? {
        if let stored = try await tx.vault.wrappedDataKey(projectID: projectID) {
            do {
                return try unwrap(stored, projectID: projectID, master: master, keyring: keyring)
            } catch let error as DomainError {
                throw error
            } catch {
                throw DomainError(.runtimeFailed, "The project's data key cannot be opened with this master key.")
            }
        }
        guard create else { return nil }
        // The shred key first: a row is never committed without the key that opens it.
        let shred = try keyring.createShredKey(projectID: projectID)
        let key = SymmetricKey(size: .bits256)
        try await tx.vault.insertWrappedDataKey(projectID: projectID, WrappedDataKey(
            wrapped: try Envelope.wrap(key, projectID: projectID, master: master, shredKey: shred),
            version: WrappedDataKey.shreddable), at: now)
        return key
    }

    static func unwrap(_ stored: WrappedDataKey, projectID: String, master: MasterKey,
                       keyring: any ProjectKeyring) throws -> SymmetricKey {
        guard stored.version == WrappedDataKey.shreddable else {
            return try Envelope.unwrap(stored.wrapped, projectID: projectID, master: master)
        }
        guard let shred = try keyring.shredKey(projectID: projectID) else {
            throw DomainError(.runtimeFailed, "The project's shred key is gone (see the project key directory); its secrets cannot be opened.")
        }
        return try Envelope.unwrap(stored.wrapped, projectID: projectID, master: master, shredKey: shred)
    }
}
