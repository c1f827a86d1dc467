import Foundation

/// Usage samples and their anonymous daily aggregates (the tables `usage_samples` and
/// `usage_daily`).
public protocol UsageRepository: Sendable {
    func insert(_ samples: [UsageSample]) async throws
    /// A server's samples in [since, until) reduced per bucket of `step` (from `since`), oldest
    /// first; buckets without samples are left out.
    func usagePoints(serverID: String, since: Date, until: Date, step: TimeInterval) async throws -> [UsagePoint]
    /// Folds every sample before `before` into anonymous daily aggregates (added to what a
    /// day already has, with `logLines` per day) and deletes them; returns how many went.
    func retireUsageSamples(before: Date, logLines: [String: Int64]) async throws -> Int
    func dailyUsage() async throws -> [DailyUsage]
}
