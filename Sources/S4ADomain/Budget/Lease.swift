import Foundation

/// A prepaid right to run a server until `deadline`, bought for `reserved`; settled once.
public struct Lease: Sendable, Equatable {
    public var id: String
    public var serverID: String
    public var accountID: String
    public var startedAt: Date
    public var deadline: Date
    public var reserved: MicroDollars
    public var settledAt: Date?
    /// The server's count of bytes sent out when the lease began (nil: no egress network).
    public var egressCounter: Int64?

    public init(id: String, serverID: String, accountID: String, startedAt: Date, deadline: Date, reserved: MicroDollars,
                settledAt: Date? = nil, egressCounter: Int64? = nil) {
        self.egressCounter = egressCounter
        self.id = id
        self.serverID = serverID
        self.accountID = accountID
        self.startedAt = startedAt
        self.deadline = deadline
        self.reserved = reserved
        self.settledAt = settledAt
    }
}

/// The metering loop's view of a running server's lease: when the newest began, when the
/// latest ends.
public struct LeaseTerm: Sendable, Equatable {
    public var startedAt: Date
    public var deadline: Date
    public init(startedAt: Date, deadline: Date) {
        self.startedAt = startedAt
        self.deadline = deadline
    }
}
