import Foundation

/// The app a server serves: one command under its supervisor, with `PORT` set, restarted by
/// its policy. A new deployment replaces the one before; stopping and starting the server
/// starts the current one again.
public struct Deployment: Sendable, Equatable {
    public var id: String
    public var serverID: String
    public var accountID: String
    public var command: String
    public var port: Int
    /// Probed over HTTP when set; else a TCP connect to `port` is the probe.
    public var healthPath: String?
    public var restart: RestartPolicy
    public var createdAt: Date
    public var replacedAt: Date?
    /// Restarts the health monitor made (the app ran but stopped answering); the supervisor
    /// counts its own (the app exited) in its process status.
    public var monitorRestarts: Int

    public init(id: String, serverID: String, accountID: String, command: String, port: Int, healthPath: String?,
                restart: RestartPolicy, createdAt: Date, replacedAt: Date? = nil, monitorRestarts: Int = 0) {
        self.id = id
        self.serverID = serverID
        self.accountID = accountID
        self.command = command
        self.port = port
        self.healthPath = healthPath
        self.restart = restart
        self.createdAt = createdAt
        self.replacedAt = replacedAt
        self.monitorRestarts = monitorRestarts
    }

    public static let defaultPort = 8080
    /// The supervised process that runs it.
    public var processName: String { id }
}

/// How a deployed app is doing, as people and agents read it.
public enum DeploymentState: String, Sendable, Equatable, CaseIterable {
    /// Started and not yet answered (or not yet probed since it started).
    case starting
    /// Its last probe since it started was answered.
    case healthy
    /// It runs, but its last probe was not answered.
    case unhealthy
    /// It keeps exiting: its supervisor is waiting to restart it, or it crashed again and again
    /// without answering in between.
    case crashLooping = "crash-looping"
    /// Not running: it exited for good, or the server does not run it.
    case stopped
}

/// A deployment with how its process is doing, as its supervisor last said, and how the
/// health monitor last found it.
public struct DeploymentStatus: Sendable, Equatable {
    public var deployment: Deployment
    /// nil: the process has no record (the server is not running it).
    public var process: ProcessStatus?
    /// The newest probe of this deployment, if any.
    public var lastProbe: HealthProbe?
    /// The server's open incident, if any (its crash count tells a crash loop).
    public var incident: Incident?

    public init(deployment: Deployment, process: ProcessStatus?, lastProbe: HealthProbe? = nil, incident: Incident? = nil) {
        self.deployment = deployment
        self.process = process
        self.lastProbe = lastProbe
        self.incident = incident
    }

    /// Every restart: the supervisor's (since the server started it) and the monitor's.
    public var restarts: Int { (process?.restarts ?? 0) + deployment.monitorRestarts }

    /// A probe counts only if it is of the process now running (one before a restart says
    /// nothing about this one).
    private var currentProbe: HealthProbe? {
        guard let probe = lastProbe, let process, probe.at >= process.startedAt else { return nil }
        return probe
    }

    public var state: DeploymentState {
        guard let process, process.state != .exited else { return .stopped }
        if process.state == .backoff { return .crashLooping }
        if let incident, incident.crashes >= 2, currentProbe?.healthy != true { return .crashLooping }
        switch currentProbe?.healthy {
        case true?: return .healthy
        case false?: return .unhealthy
        case nil: return .starting
        }
    }
}
