import Foundation
import S4ADomain
import Testing

@Suite struct ActivityChainTests {
    func chain(_ count: Int) -> [ActivityEvent] {
        var events: [ActivityEvent] = []
        for index in 0..<count {
            let record = ActivityRecord(action: "project.created", actor: Actor(type: .account, id: "acc_1"),
                                        target: Target(type: "project", id: "prj_\(index)"), projectID: "prj_\(index)",
                                        metadata: ["name": "P\(index)", "quote": "a\"b\\c\n"])
            let at = Date(timeIntervalSince1970: 1_800_000_000 + Double(index))
            events.append(ActivityChain.link(record, accountID: "acc_1", at: at,
                                             after: events.last.map { ($0.seq, $0.hash) }))
        }
        return events
    }

    @Test func anIntactChainVerifies() {
        let events = chain(5)
        #expect(events.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(events[0].prevHash == ActivityChain.genesis)
        #expect(ActivityChain.verify(events) == nil)
    }

    @Test func editingAnyFieldIsDetectedAtThatEvent() {
        let events = chain(5)
        let edits: [(inout ActivityEvent) -> Void] = [
            { $0.record.metadata["name"] = "forged" },
            { $0.record.action = "project.deleted" },
            { $0.record.actor.id = "acc_2" },
            { $0.at = $0.at.addingTimeInterval(1) },
            { $0.record.projectID = nil },
        ]
        for edit in edits {
            var tampered = events
            edit(&tampered[2])
            let broken = ActivityChain.verify(tampered)
            #expect(broken?.seq == 3)
            #expect(broken?.eventID == events[2].id)
        }
    }

    @Test func deletingOrReorderingIsDetected() {
        var missing = chain(4)
        missing.remove(at: 1)
        #expect(ActivityChain.verify(missing)?.seq == 3)
        var swapped = chain(4)
        swapped.swapAt(1, 2)
        #expect(ActivityChain.verify(swapped) != nil)
        // Rehashing the edited event alone still breaks the next link.
        var rehashed = chain(4)
        rehashed[1].record.metadata["name"] = "forged"
        rehashed[1].hash = ActivityChain.hash(accountID: "acc_1", seq: 2, id: rehashed[1].id, at: rehashed[1].at,
                                              record: rehashed[1].record, prevHash: rehashed[1].prevHash)
        #expect(ActivityChain.verify(rehashed)?.seq == 3)
    }
}
