import Foundation

extension AccountDeletion {
    /// One project, as the account's deletion does it: its data key first (committed, then its
    /// shred key destroyed), so no secret of it opens again even if what follows fails; then its
    /// servers and disks; then its rows (its events stay: the account's chain cannot lose links).
    public func deleteProject(_ principal: Principal, id: String) async throws {
        let secrets = self.secrets, servers = self.servers
        try await ProjectService(env: env).delete(principal, id: id) { project in
            try await secrets.shred(accountID: principal.accountID, projectIDs: [project.id], actor: principal.actor)
            try await servers.deleteAll(principal, projectID: project.id)
        }
    }
}
