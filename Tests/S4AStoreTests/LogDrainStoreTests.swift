import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// Log drains on both engines.
@Suite(.tags(.postgres), .needs(.postgres)) struct LogDrainStoreTests {
    @Test(arguments: Engine.allCases)
    func drainsRoundTripSaveProgressAndGoWithTheirProject(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let project = Project(id: RandomToken.id(.project), accountID: account.id, name: "d", slug: unique("d"),
                                  visibility: .private, createdAt: Date(), updatedAt: Date())
            let created = Date(timeIntervalSince1970: 1_800_000_000)
            let drain = LogDrain(id: RandomToken.id(.logDrain), accountID: account.id, projectID: project.id,
                                 url: "https://example.com/in", kinds: [.logs, .activity], sealedSecret: Data([9, 8, 7]),
                                 createdAt: created, progress: DrainProgress(activitySeq: 3, logsAfter: created))
            try await store.write { tx in
                try await tx.projects.insert(project)
                try await tx.logDrains.insert(drain)
            }
            let read = try await store.read { tx in try await tx.logDrains.logDrain(id: drain.id, projectID: project.id) }
            #expect(read == drain)
            var progress = drain.progress
            progress.recordSeq = 40
            progress.activitySeq = 9
            progress.logsAfter = created.addingTimeInterval(5)
            progress.logMarks = ["srv_a": LogMark(millis: 1_800_000_005_000, count: 3), "srv_b": LogMark(millis: 7, count: 1)]
            progress.delivered = 40
            progress.dropped = 2
            progress.lastSuccessAt = created.addingTimeInterval(6)
            progress.lastError = "the endpoint answered HTTP 503"
            progress.lastErrorAt = created.addingTimeInterval(7)
            let saved = progress
            try await store.write { tx in try await tx.logDrains.updateLogDrainProgress(id: drain.id, saved) }
            let (listed, elsewhere) = try await store.read { tx in
                (try await tx.logDrains.logDrains(projectID: project.id), try await tx.logDrains.logDrain(id: drain.id, projectID: "prj_other"))
            }
            #expect(listed.map(\.progress) == [progress])
            #expect(elsewhere == nil)
            // One control plane at a time delivers it: claims exclude, renew, lapse and are given up.
            let t0 = Date(timeIntervalSince1970: 1_900_000_000)
            func claim(_ owner: String, at: Date) async throws -> Bool {
                try await store.write { tx in
                    try await tx.logDrains.claimLogDrains(owner: owner, until: at.addingTimeInterval(15), now: at)
                }.contains { $0.id == drain.id }
            }
            #expect(try await claim("dlv_a", at: t0))
            #expect(try await !claim("dlv_b", at: t0.addingTimeInterval(1)))
            #expect(try await claim("dlv_a", at: t0.addingTimeInterval(10)))   // renewed to t0 + 25
            #expect(try await !claim("dlv_b", at: t0.addingTimeInterval(20)))
            #expect(try await claim("dlv_b", at: t0.addingTimeInterval(26)))   // a's claim lapsed
            #expect(try await !claim("dlv_a", at: t0.addingTimeInterval(27)))
            try await store.write { tx in try await tx.logDrains.releaseLogDrains(owner: "dlv_b") }
            #expect(try await claim("dlv_a", at: t0.addingTimeInterval(28)))
            // Deleting the project takes its drains along; saving progress then changes nothing.
            try await store.write { tx in try await tx.projects.deleteProject(id: project.id) }
            try await store.write { tx in try await tx.logDrains.updateLogDrainProgress(id: drain.id, saved) }
            let gone = try await store.read { tx in try await tx.logDrains.logDrains(projectID: project.id) }
            #expect(gone.isEmpty)
        }
    }
}
