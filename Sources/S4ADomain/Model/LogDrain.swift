import Foundation

/// What a drain sends.
public enum DrainKind: String, Sendable, Codable, CaseIterable, Comparable {
    /// The project's servers' log lines.
    case logs
    /// The project's activity events.
    case activity

    public static func < (a: DrainKind, b: DrainKind) -> Bool { a.rawValue < b.rawValue }
}

/// How far a drain got, saved after each delivery attempt: where to resume, and what the
/// API reports.
public struct DrainProgress: Sendable, Equatable {
    /// The `seq` of the last record delivered; the next batch starts after it.
    public var recordSeq: Int64 = 0
    /// The account-chain `seq` of the last activity event delivered (read from the store by it).
    public var activitySeq: Int64 = 0
    /// The time of the last log line delivered: after a restart, lines after it are sent.
    public var logsAfter: Date
    public var delivered: Int64 = 0
    public var dropped: Int64 = 0
    public var lastSuccessAt: Date?
    public var lastError: String?
    public var lastErrorAt: Date?

    public init(recordSeq: Int64 = 0, activitySeq: Int64 = 0, logsAfter: Date, delivered: Int64 = 0, dropped: Int64 = 0,
                lastSuccessAt: Date? = nil, lastError: String? = nil, lastErrorAt: Date? = nil) {
        self.recordSeq = recordSeq
        self.activitySeq = activitySeq
        self.logsAfter = logsAfter
        self.delivered = delivered
        self.dropped = dropped
        self.lastSuccessAt = lastSuccessAt
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
    }
}

/// A project's stream of logs and/or activity to an HTTPS endpoint, signed with its secret.
public struct LogDrain: Sendable, Equatable {
    public var id: String
    public var accountID: String
    public var projectID: String
    public var url: String
    public var kinds: Set<DrainKind>
    /// The signing secret, sealed under the project's data key (never stored in the clear).
    public var sealedSecret: Data
    public var createdAt: Date
    public var progress: DrainProgress

    public init(id: String, accountID: String, projectID: String, url: String, kinds: Set<DrainKind>, sealedSecret: Data,
                createdAt: Date, progress: DrainProgress) {
        self.id = id
        self.accountID = accountID
        self.projectID = projectID
        self.url = url
        self.kinds = kinds
        self.sealedSecret = sealedSecret
        self.createdAt = createdAt
        self.progress = progress
    }
}
