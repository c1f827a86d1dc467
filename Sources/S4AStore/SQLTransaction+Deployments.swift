import Foundation
import S4ADomain
import SQLKit

extension SQLTransaction: DeploymentRepository {
    func insert(_ deployment: Deployment) async throws {
        try await db.raw("""
            UPDATE deployments SET replaced_at = \(bind: deployment.createdAt.millis)
            WHERE server_id = \(bind: deployment.serverID) AND replaced_at IS NULL
            """).run()
        try await db.raw("""
            INSERT INTO deployments (id, server_id, account_id, command, port, health_path, restart, created_at, replaced_at)
            VALUES (\(bind: deployment.id), \(bind: deployment.serverID), \(bind: deployment.accountID), \(bind: deployment.command),
                    \(bind: deployment.port), \(bind: deployment.healthPath), \(bind: deployment.restart.rawValue),
                    \(bind: deployment.createdAt.millis), \(bind: deployment.replacedAt?.millis))
            """).run()
    }

    func currentDeployment(serverID: String) async throws -> Deployment? {
        try await db.raw("""
            SELECT * FROM deployments WHERE server_id = \(bind: serverID) AND replaced_at IS NULL
            ORDER BY created_at DESC LIMIT 1
            """).first().map(Self.deployment)
    }

    func addMonitorRestart(deploymentID: String) async throws {
        try await db.raw("UPDATE deployments SET monitor_restarts = monitor_restarts + 1 WHERE id = \(bind: deploymentID)").run()
    }

    static func deployment(_ row: any SQLRow) throws -> Deployment {
        guard let restart = RestartPolicy(rawValue: try row.string("restart")) else { throw StoreError.corrupt("restart policy") }
        return Deployment(id: try row.string("id"), serverID: try row.string("server_id"), accountID: try row.string("account_id"),
                          command: try row.string("command"), port: Int(try row.int64("port")),
                          healthPath: try row.optionalString("health_path"), restart: restart,
                          createdAt: try row.date("created_at"), replacedAt: try row.optionalDate("replaced_at"),
                          monitorRestarts: Int(try row.int64("monitor_restarts")))
    }
}
