import Foundation

/// Log drains and the claims under which one control plane delivers each (the table
/// `log_drains`).
public protocol LogDrainRepository: Sendable {
    func insert(_ drain: LogDrain) async throws
    func logDrain(id: String, projectID: String) async throws -> LogDrain?
    /// A project's drains, oldest first.
    func logDrains(projectID: String) async throws -> [LogDrain]
    /// The drains `owner` (one control plane) delivers until `until`: those it holds already and
    /// those nobody holds or whose holder let its claim lapse by `now`. Replicas sharing the
    /// store so deliver each drain once; a stopped one's drains pass on when its claims lapse.
    func claimLogDrains(owner: String, until: Date, now: Date) async throws -> [LogDrain]
    /// Gives up `owner`'s claims (a stopping control plane), for another to take at once.
    func releaseLogDrains(owner: String) async throws
    func deleteLogDrain(id: String) async throws
    /// Saves a drain's progress; nothing if the drain is gone.
    func updateLogDrainProgress(id: String, _ progress: DrainProgress) async throws
}
