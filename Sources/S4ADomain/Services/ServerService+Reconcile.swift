import Foundation

/// At start, the store and the runtime made to agree.
extension ServerService {
    /// At start: adopt servers still running, mark vanished ones failed, lose interrupted runs,
    /// and remove every container, mount, loop device and disk that belongs to no server.
    public func reconcile() async throws -> (adopted: Int, failed: Int, removed: [String]) {
        let servers = try await env.store.read { tx in try await tx.servers.liveServers() }
        var adopted = 0, failed = 0
        for server in servers where server.state == .running || server.state == .creating {
            if server.state == .running, try await runtime.status(server.id) == .running {
                adopted += 1
                continue
            }
            // Stopped by its watchdog while the control plane was away: a lease ran out.
            if server.state == .running, try await endIfLeaseRanOut(server, budgets) { continue }
            failed += 1
            try? await runtime.stop(server.id)
            try? await budgets.settle(server)
            var broken = server
            broken.lastError = server.state == .creating ? "interrupted while being created" : "its container vanished"
            _ = try await transition(broken, to: .failed, action: Action.serverFailed, actor: .system)
        }
        // A server recorded as not running has no business holding a container.
        for server in servers where server.state != .running && server.state != .creating {
            if try await runtime.status(server.id) != nil { try await runtime.stop(server.id) }
        }
        let now = env.now()
        _ = try await env.store.write { tx in try await tx.servers.loseRunningRuns(at: now) }
        let removed = try await runtime.removeOrphans(keeping: Set(servers.map(\.id)))
        return (adopted, failed, removed)
    }
}
