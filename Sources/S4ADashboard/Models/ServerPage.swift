/// The server's page: what it is, what it costs, its app, its secrets (names only), runs and logs.
struct ServerPage: PageModel {
    struct Info: Sendable {
        var id: String
        var name: String
        var state: String
        var projectID: String
        var projectName: String
        var template: String
        var cpu: Int
        var memory: Int
        var disk: Int
        var network: String
        var lastError: String?
        var running: Bool
        var startable: Bool
    }

    /// The deployed app, as its supervisor and the health monitor last saw it.
    struct App: Sendable {
        var command: String
        var port: Int
        var healthPath: String?
        var restartPolicy: String
        /// The state in words, and its name as the API reports it (starting, healthy, …).
        var state: String
        var stateName: String
        var restarts: Int
        var lastExit: String?
        var started: String?
        var health: String
        var healthy: Bool
        /// The project's URL when this server is attached (it serves it).
        var url: String?
        var projectURL: String
    }

    /// The deploy form, filled with the current deployment's values when there is one.
    struct DeployForm: Sendable {
        var command: String
        var port: Int
        var healthPath: String
        var policies: [Choice]
    }

    var title: String
    var server: Info
    var spend: SpendBar
    var reserved: String
    var rate: String
    var charts: [String]
    var app: App?
    var deploy: DeployForm
    var serverSecrets: [SecretRow]
    var projectSecrets: [SecretRow]
    var runs: [RunRow]
    var logs: String
    var logsURL: String
}

/// One run in a server's list of runs.
struct RunRow: Sendable {
    var id: String
    var serverID: String
    var kind: String
    var command: String
    var state: String
    var exitCode: String
    var started: String
    var cpu: String
    var endedBy: String?
    var cancellable: Bool
}
