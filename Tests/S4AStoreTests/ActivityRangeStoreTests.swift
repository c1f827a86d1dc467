import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// The in-order activity reads the export and the log drains use, on both engines.
@Suite(.tags(.postgres), .needs(.postgres)) struct ActivityRangeStoreTests {
    @Test(arguments: Engine.allCases)
    func activityInRangeReadsInChainOrder(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            for index in 0..<7 {
                try await store.write { tx in
                    try await tx.lockAccount(id: account.id)
                    try await tx.activity.append(ActivityRecord(action: "project.updated", actor: .system,
                                                       target: Target(type: "project", id: "prj_\(index % 2)"),
                                                       projectID: "prj_\(index % 2)"),
                                        accountID: account.id, at: start.addingTimeInterval(Double(index)))
                }
            }
            let (all, page, narrowed, timed) = try await store.read { tx in
                (try await tx.activity.activity(in: ActivityRange(accountID: account.id)),
                 try await tx.activity.activity(in: ActivityRange(accountID: account.id, afterSeq: 2, limit: 3)),
                 try await tx.activity.activity(in: ActivityRange(accountID: account.id, projectIDs: ["prj_1"])),
                 try await tx.activity.activity(in: ActivityRange(accountID: account.id, since: start.addingTimeInterval(2),
                                                         until: start.addingTimeInterval(4))))
            }
            #expect(all.map(\.seq) == [1, 2, 3, 4, 5, 6, 7])
            #expect(ActivityChain.verify(all) == nil)
            #expect(page.map(\.seq) == [3, 4, 5])
            #expect(narrowed.map(\.seq) == [2, 4, 6])
            #expect(timed.map(\.seq) == [3, 4, 5])
        }
    }
}
