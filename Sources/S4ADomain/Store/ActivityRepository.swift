import Foundation

/// The activity log: each account's append-only, hash-chained events (the table
/// `activity_events`).
public protocol ActivityRepository: Sendable {
    /// Appends `record` to the account's chain; call `lockAccount` first in the same transaction.
    @discardableResult
    func append(_ record: ActivityRecord, accountID: String, at: Date) async throws -> ActivityEvent
    func activity(_ query: ActivityQuery) async throws -> Page<ActivityEvent>
    /// Every event of the account, in chain order.
    func chain(accountID: String) async throws -> [ActivityEvent]
    /// At most `range.limit` events of the range, oldest first.
    func activity(in range: ActivityRange) async throws -> [ActivityEvent]
    func accountIDsWithActivity() async throws -> [String]
    /// Each account's newest event: where its chain stands.
    func chainHeads() async throws -> [ChainHead]
    /// Replaces an event's MAC (a master key rotation seals the chain under the new key).
    func setActivityMAC(eventID: String, mac: String) async throws
}

/// Filters of the activity feed.
public struct ActivityQuery: Sendable {
    public var accountID: String
    /// nil: every event; otherwise only events of these projects.
    public var projectIDs: Set<String>?
    public var action: String?
    /// The opaque cursor of the previous page.
    public var cursor: String?
    public var limit: Int
    public init(accountID: String, projectIDs: Set<String>? = nil, action: String? = nil, cursor: String? = nil, limit: Int = 50) {
        self.accountID = accountID
        self.projectIDs = projectIDs
        self.action = action
        self.cursor = cursor
        self.limit = limit
    }
}

/// A stretch of the activity chain in chain order (exports, drains).
public struct ActivityRange: Sendable {
    public var accountID: String
    /// nil: every event; otherwise only events of these projects.
    public var projectIDs: Set<String>?
    /// nil: every action; otherwise this one only.
    public var action: String?
    /// Events with a greater `seq` only.
    public var afterSeq: Int64
    /// Inclusive bounds on the event's time.
    public var since: Date?
    public var until: Date?
    public var limit: Int
    public init(accountID: String, projectIDs: Set<String>? = nil, action: String? = nil, afterSeq: Int64 = 0,
                since: Date? = nil, until: Date? = nil, limit: Int = 500) {
        self.accountID = accountID
        self.projectIDs = projectIDs
        self.action = action
        self.afterSeq = afterSeq
        self.since = since
        self.until = until
        self.limit = limit
    }
}

/// Where one account's activity chain stands.
public struct ChainHead: Sendable, Equatable {
    public var accountID: String
    public var seq: Int64
    public var hash: String
    public init(accountID: String, seq: Int64, hash: String) {
        self.accountID = accountID
        self.seq = seq
        self.hash = hash
    }
}
