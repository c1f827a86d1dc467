import Foundation

/// Servers and the runs in them (the tables `servers` and `runs`).
public protocol ServerRepository: Sendable {
    // Servers
    func insert(_ server: Server) async throws
    func server(id: String, accountID: String) async throws -> Server?
    /// Every server not deleted, of every account: the reconciler's view.
    func liveServers() async throws -> [Server]
    /// Every server of the account not yet deleted.
    func liveServers(accountID: String) async throws -> [Server]
    func servers(accountID: String, projectIDs: Set<String>?, cursor: String?, limit: Int) async throws -> Page<Server>
    func update(_ server: Server) async throws
    /// The lowest uid block no live server holds.
    func freeUIDSlot() async throws -> Int

    // Runs
    func insert(_ run: Run) async throws
    func update(_ run: Run) async throws
    func run(id: String, serverID: String) async throws -> Run?
    /// Forgets a run that never ran (the runtime refused it).
    func deleteRun(id: String) async throws
    /// Runs without their output, newest first.
    func runs(serverID: String, cursor: String?, limit: Int) async throws -> Page<Run>
    /// Marks waited-for runs still `running` as `lost` (the control plane stopped while they ran);
    /// background runs are left to their supervisors.
    func loseRunningRuns(at: Date) async throws -> Int
}
