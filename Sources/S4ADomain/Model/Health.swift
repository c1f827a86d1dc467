import Foundation

/// One probe of a deployed app, as recorded.
public struct HealthProbe: Sendable, Equatable {
    public var serverID: String
    public var projectID: String
    public var deploymentID: String
    public var at: Date
    public var healthy: Bool
    public var milliseconds: Int
    public var detail: String

    public init(serverID: String, projectID: String, deploymentID: String, at: Date, healthy: Bool, milliseconds: Int,
                detail: String) {
        self.serverID = serverID
        self.projectID = projectID
        self.deploymentID = deploymentID
        self.at = at
        self.healthy = healthy
        self.milliseconds = milliseconds
        self.detail = detail
    }
}

/// A time an app was down: opened when it crashed or failed its probes, updated while it
/// keeps crashing (one incident per crash loop, not one per crash), closed once it has
/// answered long enough to count as recovered.
public struct Incident: Sendable, Equatable {
    public var id: String
    public var projectID: String
    public var serverID: String
    public var accountID: String
    public var startedAt: Date
    public var endedAt: Date?
    public var reason: String
    /// How many times the app exited or was restarted for not answering while it lasted.
    public var crashes: Int
    public var lastExitCode: Int?
    /// When it last got worse (a crash, a restart); recovery is counted from there.
    public var updatedAt: Date

    public init(id: String, projectID: String, serverID: String, accountID: String, startedAt: Date, endedAt: Date? = nil,
                reason: String, crashes: Int = 0, lastExitCode: Int? = nil, updatedAt: Date? = nil) {
        self.id = id
        self.projectID = projectID
        self.serverID = serverID
        self.accountID = accountID
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.reason = reason
        self.crashes = crashes
        self.lastExitCode = lastExitCode
        self.updatedAt = updatedAt ?? startedAt
    }
}

/// A project's availability: the share of healthy probes of its apps.
public struct Uptime: Sendable, Equatable {
    /// nil when nothing was probed in the window.
    public var last24Hours: Double?
    public var last30Days: Double?
    public var probes24Hours: Int
    public var incidents: [Incident]
}
