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
    /// Log lines of servers without a mark are sent from after this time (the drain's creation).
    public var logsAfter: Date
    /// Per server, where its delivered lines end: after a restart its files are read again
    /// from there.
    public var logMarks: [String: LogMark] = [:]
    public var delivered: Int64 = 0
    public var dropped: Int64 = 0
    public var lastSuccessAt: Date?
    public var lastError: String?
    public var lastErrorAt: Date?

    public init(recordSeq: Int64 = 0, activitySeq: Int64 = 0, logsAfter: Date, logMarks: [String: LogMark] = [:],
                delivered: Int64 = 0, dropped: Int64 = 0, lastSuccessAt: Date? = nil, lastError: String? = nil,
                lastErrorAt: Date? = nil) {
        self.recordSeq = recordSeq
        self.activitySeq = activitySeq
        self.logsAfter = logsAfter
        self.logMarks = logMarks
        self.delivered = delivered
        self.dropped = dropped
        self.lastSuccessAt = lastSuccessAt
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
    }
}

/// Where a server's delivered log lines end: the last one's millisecond and how many of that
/// server's delivered lines carry it (lines are stamped to the millisecond; a burst shares one).
public struct LogMark: Sendable, Equatable, Codable {
    public var millis: Int64
    public var count: Int
    public init(millis: Int64, count: Int) {
        self.millis = millis
        self.count = count
    }

    /// Moves past one more delivered line stamped `millis` (lines come oldest first).
    public mutating func advance(_ millis: Int64) {
        if millis > self.millis {
            self.millis = millis
            count = 1
        } else if millis == self.millis {
            count += 1
        }
    }

    /// Of a server's lines read whole (oldest first), those not yet delivered.
    public func undelivered(_ lines: [LogLine]) -> [LogLine] {
        var skip = count
        return lines.filter { line in
            let millis = line.millis
            if millis < self.millis { return false }
            if millis == self.millis, skip > 0 {
                skip -= 1
                return false
            }
            return true
        }
    }
}

extension LogLine {
    /// The millisecond the line is stamped with (its files keep no finer time).
    public var millis: Int64 { time.epochMilliseconds }
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
