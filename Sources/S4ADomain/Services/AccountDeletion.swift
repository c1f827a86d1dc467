import Foundation

/// Deleting an account, in an order that makes it safe to stop at any point:
/// 1. one committed transaction marks the account `deleting`, ends every session, API key and
///    export link (their next request fails), and deletes every project's wrapped data key and
///    sealed secrets;
/// 2. the projects' shred keys are destroyed (from here no backup opens those secrets);
/// 3. every server is stopped and destroyed (container, cgroups, mounts, loop device, disk,
///    network namespace) through the same path as `DELETE /v1/servers/{id}`;
/// 4. a signed checkpoint outside the database records the deletion (its activity chain goes on
///    purpose), then one transaction deletes every row that names the account, the account last.
/// Steps 2–4 are idempotent: a restart (or the background finisher) runs them again for every
/// account still marked `deleting`.
public struct AccountDeletion: Sendable {
    let env: DomainEnvironment
    let accounts: AccountService
    let secrets: SecretService
    let servers: ServerService
    /// Told before the account's events go, so their absence is not taken for tampering.
    let anchor: AuditAnchor?

    public init(env: DomainEnvironment, accounts: AccountService, secrets: SecretService, servers: ServerService,
                anchor: AuditAnchor? = nil) {
        self.env = env
        self.accounts = accounts
        self.secrets = secrets
        self.servers = servers
        self.anchor = anchor
    }

    /// `DELETE /v1/account`: a signed-in person, with the password. Returns false if the
    /// deletion was started but could not be finished now (the background finisher retries).
    public func delete(_ principal: Principal, password: String) async throws -> Bool {
        let account = try await accounts.recheckPassword(principal, password)
        let now = env.now()
        try await env.store.write { tx in
            try await tx.lockAccount(id: account.id)
            try await tx.accountDeletion.markAccountDeleting(id: account.id, at: now)
            try await tx.accountDeletion.deleteCredentials(accountID: account.id)
            let projectIDs = try await tx.projects.projectIDs(accountID: account.id)
            for projectID in projectIDs { try await tx.vault.deleteDataKeyAndSecrets(projectID: projectID) }
            try await tx.activity.append(
                ActivityRecord(action: Action.accountDeletionStarted, actor: principal.actor,
                               target: Target(type: "account", id: account.id),
                               metadata: ["projects": "\(projectIDs.count)"]),
                accountID: account.id, at: now)
        }
        do {
            try await finish(accountID: account.id)
            return true
        } catch {
            return false
        }
    }

    /// Steps 2–4 for an account marked `deleting`; nothing if it is gone already.
    public func finish(accountID: String) async throws {
        guard let (email, projectIDs) = try await env.store.read({ tx -> (String, [String])? in
            guard let account = try await tx.accounts.account(id: accountID) else { return nil }
            return (account.email, try await tx.projects.projectIDs(accountID: accountID))
        }) else { return }
        try await secrets.shred(accountID: accountID, projectIDs: projectIDs, actor: .system)
        // Servers created by a request already under way when the deletion began are found
        // here too: the loop runs until none is left.
        for _ in 0..<5 {
            let live = try await env.store.read { tx in try await tx.servers.liveServers(accountID: accountID) }
            if live.isEmpty { break }
            for server in live {
                try await servers.locks.withLock(server.id) { try await servers.destroy(server, actor: .system) }
            }
        }
        try await anchor?.accountDeleted(accountID)
        try await env.store.write { tx in
            try await tx.lockAccount(id: accountID)
            guard try await tx.servers.liveServers(accountID: accountID).isEmpty else {
                throw DomainError(.conflict, "A server of the account is still being created; the deletion will be retried.")
            }
            try await tx.accountDeletion.deleteAccountRows(accountID: accountID, email: email)
        }
    }

    /// Finishes every deletion a crash or a failure left; returns how many finished and the
    /// errors of those that did not.
    public func finishPending() async throws -> (finished: Int, failures: [String]) {
        let pending = try await env.store.read { tx in try await tx.accountDeletion.accountsBeingDeleted() }
        var finished = 0
        var failures: [String] = []
        for accountID in pending {
            do {
                try await finish(accountID: accountID)
                finished += 1
            } catch {
                failures.append(String(describing: error))
            }
        }
        return (finished, failures)
    }
}
