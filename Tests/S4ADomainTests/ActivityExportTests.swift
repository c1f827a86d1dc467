import Foundation
import S4ADomain
import Testing

@Suite struct ActivityExportTests {
    func event(metadata: [String: String] = ["name": "a, \"quoted\"\nname"], projectID: String? = "prj_1") -> ActivityEvent {
        let record = ActivityRecord(action: "secret.set", actor: Actor(type: .apiKey, id: "key_1"),
                                    target: Target(type: "secret", id: "TOKEN"), projectID: projectID, metadata: metadata)
        return ActivityChain.link(record, accountID: "acc_1", at: Date(timeIntervalSince1970: 1_800_000_000.5), after: nil)
    }

    @Test func aJSONLineCarriesEverythingTheHashCovers() throws {
        let event = event()
        let line = ActivityExport.jsonLine(event)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.dropLast().contains(UInt8(ascii: "\n")) == false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        #expect(object["seq"] as? Int == 1)
        #expect(object["account_id"] as? String == "acc_1")
        #expect(object["at"] as? String == "2027-01-15T08:00:00.500Z")
        #expect(object["prev_hash"] as? String == ActivityChain.genesis)
        #expect(object["hash"] as? String == event.hash)
        #expect((object["actor"] as? [String: String]) == ["type": "api_key", "id": "key_1"])
        #expect((object["metadata"] as? [String: String]) == event.record.metadata)
        // Absent project: null, so every line has the same keys.
        let bare = try #require(try JSONSerialization.jsonObject(with: Data(ActivityExport.json(self.event(projectID: nil)))) as? [String: Any])
        #expect(bare["project_id"] is NSNull)
    }

    @Test func timesCarryExactlyTheStoredMillisecond() {
        // Every millisecond of a second, as the store gives them back (millis / 1000 as a double).
        for millis in Int64(1_795_794_201_000)..<1_795_794_202_000 {
            let text = Timestamp.rfc3339(Date(timeIntervalSince1970: Double(millis) / 1000))
            #expect(text == "2026-11-27T15:43:21" + String(format: ".%03dZ", Int(millis % 1000)))
        }
    }

    @Test func csvQuotesOnlyWhatNeedsIt() {
        let row = String(decoding: ActivityExport.csvRow(event()), as: UTF8.self)
        #expect(row.hasSuffix("\r\n"))
        #expect(row.hasPrefix("acc_1,1,evt_"))
        // The metadata JSON has quotes and a comma: one quoted field, its quotes doubled.
        #expect(row.contains(#","{""name"":""a, \""quoted\""\nname""}","#))
        #expect(String(decoding: ActivityExport.csvHeader, as: UTF8.self)
                == "account_id,seq,id,at,action,actor_type,actor_id,target_type,target_id,project_id,metadata,prev_hash,hash\r\n")
    }
}
