import Foundation
@testable import S4ADomain
import Testing

/// How a deployment's state is read from its process, its newest probe and its open incident.
@Suite struct DeploymentStateTests {
    let started = Date(timeIntervalSince1970: 1_000_000)
    let deployment = Deployment(id: "dep", serverID: "srv", accountID: "acc", command: "serve", port: 8080, healthPath: nil,
                                restart: .always, createdAt: Date(timeIntervalSince1970: 999_000), monitorRestarts: 2)

    func probe(_ healthy: Bool, at offset: TimeInterval) -> HealthProbe {
        HealthProbe(serverID: "srv", projectID: "prj", deploymentID: "dep", at: started + offset, healthy: healthy, milliseconds: 1,
                    detail: healthy ? "ok" : "refused")
    }

    func incident(crashes: Int) -> Incident {
        Incident(id: "inc", projectID: "prj", serverID: "srv", accountID: "acc", startedAt: started, reason: "exited", crashes: crashes)
    }

    func status(_ state: ProcessStatus.State?, restarts: Int = 0, probe: HealthProbe? = nil, incident: Incident? = nil)
        -> DeploymentStatus {
        DeploymentStatus(deployment: deployment,
                         process: state.map { ProcessStatus(state: $0, restarts: restarts, startedAt: started) },
                         lastProbe: probe, incident: incident)
    }

    @Test func statesFollowTheProcessAndItsProbes() {
        #expect(status(nil).state == .stopped)
        #expect(status(.exited).state == .stopped)
        #expect(status(.starting).state == .starting)
        #expect(status(.running).state == .starting)
        #expect(status(.running, probe: probe(true, at: 1)).state == .healthy)
        #expect(status(.running, probe: probe(false, at: 1)).state == .unhealthy)
        // A probe of the process before this one says nothing about this one.
        #expect(status(.running, probe: probe(true, at: -1)).state == .starting)
        #expect(status(.backoff).state == .crashLooping)
        // Crashing again and again without answering in between.
        #expect(status(.running, incident: incident(crashes: 3)).state == .crashLooping)
        #expect(status(.running, probe: probe(true, at: 1), incident: incident(crashes: 3)).state == .healthy)
        #expect(status(.running, incident: incident(crashes: 1)).state == .starting)
    }

    @Test func restartsCountTheSupervisorsAndTheMonitors() {
        #expect(status(.running, restarts: 3).restarts == 5)
        #expect(status(nil).restarts == 2)
    }

    @Test func aCrashLoopNeedsLongerToCountAsRecovered() {
        #expect(HealthService.recoveryPeriod(crashes: 0) == 0)
        #expect(HealthService.recoveryPeriod(crashes: 1) == 0)
        #expect(HealthService.recoveryPeriod(crashes: 2) == 60)
        #expect(HealthService.recoveryPeriod(crashes: 5) == 240)
        #expect(HealthService.recoveryPeriod(crashes: 1000) == 600)
    }
}
