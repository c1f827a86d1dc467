import Foundation

/// Health probes of deployed apps and the incidents they open (the tables `health_probes` and
/// `incidents`).
public protocol HealthRepository: Sendable {
    // Probes
    func insert(_ probes: [HealthProbe]) async throws
    /// Probes of a project's apps since `since`: how many, and how many healthy.
    func probeCounts(projectID: String, since: Date) async throws -> (total: Int, healthy: Int)
    func deleteProbes(before: Date) async throws
    func latestProbe(deploymentID: String) async throws -> HealthProbe?

    // Incidents
    func insert(_ incident: Incident) async throws
    func openIncident(serverID: String) async throws -> Incident?
    /// The server's newest incident, open or ended.
    func latestIncident(serverID: String) async throws -> Incident?
    /// Updates an incident's reason, crashes, last exit code, update and end time (nil reopens it).
    func update(_ incident: Incident) async throws
    func closeIncident(id: String, at: Date) async throws
    /// A project's incidents open or ended since `since`, newest first.
    func incidents(projectID: String, since: Date) async throws -> [Incident]
}
