import Foundation

/// Deployments of apps on servers (the table `deployments`).
public protocol DeploymentRepository: Sendable {
    /// Inserts a deployment, marking the server's current one replaced.
    func insert(_ deployment: Deployment) async throws
    func currentDeployment(serverID: String) async throws -> Deployment?
    /// Counts a restart the health monitor made.
    func addMonitorRestart(deploymentID: String) async throws
}
