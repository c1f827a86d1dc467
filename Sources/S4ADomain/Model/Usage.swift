import Foundation

/// One reading of a running server. CPU and network are the cgroup's and namespace's
/// cumulative counters (they restart at zero with the server); the rest are levels.
public struct UsageSample: Sendable, Equatable {
    public var serverID: String
    public var accountID: String
    public var at: Date
    public var cpuMicros: Int64
    public var memoryBytes: Int64
    public var pids: Int64
    public var diskBytes: Int64
    public var networkReceivedBytes: Int64
    public var networkSentBytes: Int64
    /// What the server had been charged by then.
    public var charged: MicroDollars

    public init(serverID: String, accountID: String, at: Date, cpuMicros: Int64, memoryBytes: Int64, pids: Int64,
                diskBytes: Int64, networkReceivedBytes: Int64, networkSentBytes: Int64, charged: MicroDollars) {
        self.serverID = serverID
        self.accountID = accountID
        self.at = at
        self.cpuMicros = cpuMicros
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.diskBytes = diskBytes
        self.networkReceivedBytes = networkReceivedBytes
        self.networkSentBytes = networkSentBytes
        self.charged = charged
    }
}

/// A point of a usage chart: what was used within its bucket (CPU, network: the growth of
/// the counters from sample to sample, all of a counter's value after it restarted from
/// zero), the peak levels (memory, pids, disk), and the spend so far at its end.
public struct UsagePoint: Sendable, Equatable {
    public var at: Date
    public var cpuMicros: Int64
    public var memoryBytes: Int64
    public var pids: Int64
    public var diskBytes: Int64
    public var networkReceivedBytes: Int64
    public var networkSentBytes: Int64
    public var charged: MicroDollars

    public init(at: Date, cpuMicros: Int64, memoryBytes: Int64, pids: Int64, diskBytes: Int64,
                networkReceivedBytes: Int64, networkSentBytes: Int64, charged: MicroDollars) {
        self.at = at
        self.cpuMicros = cpuMicros
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.diskBytes = diskBytes
        self.networkReceivedBytes = networkReceivedBytes
        self.networkSentBytes = networkSentBytes
        self.charged = charged
    }
}

/// What survives the retention period of one UTC day: counts, with no server or account ids.
public struct DailyUsage: Sendable, Equatable {
    public var day: String
    public var servers: Int64
    public var samples: Int64
    public var cpuMicros: Int64
    public var maxMemoryBytes: Int64
    public var logLines: Int64

    public init(day: String, servers: Int64, samples: Int64, cpuMicros: Int64, maxMemoryBytes: Int64, logLines: Int64) {
        self.day = day
        self.servers = servers
        self.samples = samples
        self.cpuMicros = cpuMicros
        self.maxMemoryBytes = maxMemoryBytes
        self.logLines = logLines
    }
}

extension DailyUsage {
    /// Days are UTC days (made once: the janitor names the day of every log line it drops).
    public static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    /// `2026-11-27`: the UTC day of `date`.
    public static func dayName(_ date: Date) -> String {
        let parts = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }
}
