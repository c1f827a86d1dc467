import Foundation
import S4ADomain
import SQLKit

extension SQLTransaction: HealthRepository {
    func insert(_ probes: [HealthProbe]) async throws {
        for probe in probes {
            try await db.raw("""
                INSERT INTO health_probes (server_id, project_id, deployment_id, probed_at, healthy, milliseconds, detail)
                VALUES (\(bind: probe.serverID), \(bind: probe.projectID), \(bind: probe.deploymentID), \(bind: probe.at.millis),
                        \(bind: probe.healthy ? 1 : 0), \(bind: probe.milliseconds), \(bind: String(probe.detail.prefix(200))))
                """).run()
        }
    }

    func probeCounts(projectID: String, since: Date) async throws -> (total: Int, healthy: Int) {
        guard let row = try await db.raw("""
            SELECT COUNT(*) AS total, CAST(COALESCE(SUM(healthy), 0) AS BIGINT) AS healthy FROM health_probes
            WHERE project_id = \(bind: projectID) AND probed_at >= \(bind: since.millis)
            """).first() else { return (0, 0) }
        return (Int(try row.int64("total")), Int(try row.int64("healthy")))
    }

    func deleteProbes(before: Date) async throws {
        try await db.raw("DELETE FROM health_probes WHERE probed_at < \(bind: before.millis)").run()
    }

    func latestProbe(deploymentID: String) async throws -> HealthProbe? {
        try await db.raw("""
            SELECT * FROM health_probes WHERE deployment_id = \(bind: deploymentID) ORDER BY probed_at DESC LIMIT 1
            """).first().map { row in
            HealthProbe(serverID: try row.string("server_id"), projectID: try row.string("project_id"),
                        deploymentID: try row.string("deployment_id"), at: try row.date("probed_at"),
                        healthy: try row.int64("healthy") != 0, milliseconds: Int(try row.int64("milliseconds")),
                        detail: try row.string("detail"))
        }
    }

    func insert(_ incident: Incident) async throws {
        try await db.raw("""
            INSERT INTO incidents (id, project_id, server_id, account_id, started_at, ended_at, reason, crashes, last_exit_code,
                                   updated_at)
            VALUES (\(bind: incident.id), \(bind: incident.projectID), \(bind: incident.serverID), \(bind: incident.accountID),
                    \(bind: incident.startedAt.millis), \(bind: incident.endedAt?.millis), \(bind: incident.reason),
                    \(bind: incident.crashes), \(bind: incident.lastExitCode), \(bind: incident.updatedAt.millis))
            """).run()
    }

    func update(_ incident: Incident) async throws {
        try await db.raw("""
            UPDATE incidents SET reason = \(bind: incident.reason), crashes = \(bind: incident.crashes),
                last_exit_code = \(bind: incident.lastExitCode), updated_at = \(bind: incident.updatedAt.millis),
                ended_at = \(bind: incident.endedAt?.millis)
            WHERE id = \(bind: incident.id)
            """).run()
    }

    func openIncident(serverID: String) async throws -> Incident? {
        try await db.raw("""
            SELECT * FROM incidents WHERE server_id = \(bind: serverID) AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1
            """).first().map(Self.incident)
    }

    func latestIncident(serverID: String) async throws -> Incident? {
        try await db.raw("""
            SELECT * FROM incidents WHERE server_id = \(bind: serverID) ORDER BY started_at DESC LIMIT 1
            """).first().map(Self.incident)
    }

    func closeIncident(id: String, at: Date) async throws {
        try await db.raw("UPDATE incidents SET ended_at = \(bind: at.millis) WHERE id = \(bind: id) AND ended_at IS NULL").run()
    }

    func incidents(projectID: String, since: Date) async throws -> [Incident] {
        try await db.raw("""
            SELECT * FROM incidents WHERE project_id = \(bind: projectID)
              AND (ended_at IS NULL OR ended_at >= \(bind: since.millis))
            ORDER BY started_at DESC LIMIT 200
            """).all().map(Self.incident)
    }

    static func incident(_ row: any SQLRow) throws -> Incident {
        Incident(id: try row.string("id"), projectID: try row.string("project_id"), serverID: try row.string("server_id"),
                 accountID: try row.string("account_id"), startedAt: try row.date("started_at"),
                 endedAt: try row.optionalDate("ended_at"), reason: try row.string("reason"),
                 crashes: Int(try row.int64("crashes")), lastExitCode: try row.optionalInt64("last_exit_code").map { Int($0) },
                 updatedAt: try row.optionalDate("updated_at"))
    }
}
