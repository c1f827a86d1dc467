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

    public init(id: String, serverID: String, accountID: String, command: String, port: Int, healthPath: String?,
                restart: RestartPolicy, createdAt: Date, replacedAt: Date? = nil) {
        self.id = id
        self.serverID = serverID
        self.accountID = accountID
        self.command = command
        self.port = port
        self.healthPath = healthPath
        self.restart = restart
        self.createdAt = createdAt
        self.replacedAt = replacedAt
    }

    public static let defaultPort = 8080
    /// The supervised process that runs it.
    public var processName: String { id }
}

/// A deployment with how its process is doing, as its supervisor last said.
public struct DeploymentStatus: Sendable, Equatable {
    public var deployment: Deployment
    /// nil: the process has no record (the server is not running it).
    public var process: ProcessStatus?
}
