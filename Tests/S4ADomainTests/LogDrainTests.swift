import Foundation
import S4ADomain
import Testing

@Suite struct LogDrainTests {
    func line(_ text: String, at seconds: Double = 1_800_000_000) -> DrainItem {
        .log(serverID: "srv_1", line: LogLine(time: Date(timeIntervalSince1970: seconds), stream: .stdout, process: "run_1", text: text))
    }

    func records(_ batch: DrainBatch) throws -> [[String: Any]] {
        try String(decoding: batch.body, as: UTF8.self).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func aFullBufferDropsWhatComesAndCountsIt() {
        var buffer = DrainBuffer(capacity: 3)
        #expect(buffer.append(contentsOf: [line("a"), line("b")]) == 0)
        #expect(buffer.append(contentsOf: [line("c"), line("d"), line("e")]) == 2)
        #expect(buffer.count == 3 && buffer.room == 0)
        // What was kept is the oldest, in order.
        #expect(buffer.take(max: 2) == [line("a"), line("b")])
        #expect(buffer.append(contentsOf: [line("f"), line("g"), line("h")]) == 1)
        #expect(buffer.take(max: 10) == [line("c"), line("f"), line("g")])
        #expect(buffer.isEmpty)
        #expect(buffer.takeDrops() == 3)
        #expect(buffer.takeDrops() == 0)
    }

    @Test func takingManyTimesKeepsOrder() {
        var buffer = DrainBuffer(capacity: 10_000)
        var taken: [DrainItem] = []
        for round in 0..<50 {
            buffer.append(contentsOf: (0..<200).map { line("\(round)-\($0)") })
            taken += buffer.take(max: 150)
        }
        taken += buffer.take(max: 10_000)
        #expect(taken == (0..<50).flatMap { round in (0..<200).map { line("\(round)-\($0)") } })
    }

    @Test func aBatchNumbersItsRecordsAfterTheLastDelivered() throws {
        let event = ActivityChain.link(
            ActivityRecord(action: "project.created", actor: .system, target: Target(type: "project", id: "prj_1"), projectID: "prj_1"),
            accountID: "acc_1", at: Date(timeIntervalSince1970: 1_800_000_000), after: nil)
        let batch = DrainBatch(drainID: "ldr_1", projectID: "prj_1", after: 41,
                               items: [.activity(event), line("hello \"world\"\n", at: 1_800_000_001)], drops: 7,
                               now: Date(timeIntervalSince1970: 1_800_000_002))
        #expect(batch.id == "ldr_1:42-44")
        #expect(batch.firstSeq == 42 && batch.lastSeq == 44 && batch.count == 3)
        #expect(batch.activitySeq == 1)
        #expect(batch.logStamps == [LogStamp(serverID: "srv_1", millis: 1_800_000_001_000)])
        let lines = try records(batch)
        #expect(lines.map { $0["seq"] as? Int } == [42, 43, 44])
        #expect(lines.map { $0["id"] as? String } == ["ldr_1:42", "ldr_1:43", "ldr_1:44"])
        #expect(lines.map { $0["kind"] as? String } == ["drops", "activity", "log"])
        #expect(lines[0]["count"] as? Int == 7)
        let delivered = try #require(lines[1]["event"] as? [String: Any])
        #expect(delivered["hash"] as? String == event.hash && delivered["prev_hash"] as? String == ActivityChain.genesis)
        #expect(lines[2]["text"] as? String == "hello \"world\"\n")
        #expect(lines[2]["server_id"] as? String == "srv_1" && lines[2]["project_id"] as? String == "prj_1")
        #expect(lines[2]["time"] as? String == "2027-01-15T08:00:01.000Z")
    }

    @Test func theSignatureIsHMACSHA256OfTimestampDotBody() {
        // Computed independently: python3 -c "import hmac,hashlib; print(hmac.new(b's3cret', b'1700000000.{\"a\":1}\n', hashlib.sha256).hexdigest())"
        #expect(DrainBatch.signature(secret: "s3cret", timestamp: "1700000000", body: Array("{\"a\":1}\n".utf8))
                == "sha256=eac365a53cd85d00e88716246d8e08175abad40e8a30e95418816eabe90b0428")
        let batch = DrainBatch(drainID: "ldr_1", projectID: "prj_1", after: 0, items: [line("x")], drops: 0,
                               now: Date(timeIntervalSince1970: 1_700_000_000))
        let headers = Dictionary(uniqueKeysWithValues: batch.headers(drainID: "ldr_1", secret: "s3cret",
                                                                     now: Date(timeIntervalSince1970: 1_700_000_000.9)).map { ($0.name, $0.value) })
        #expect(headers["X-S4A-Timestamp"] == "1700000000")
        #expect(headers["X-S4A-Batch"] == "ldr_1:1-1")
        #expect(headers["X-S4A-Signature"] == DrainBatch.signature(secret: "s3cret", timestamp: "1700000000", body: batch.body))
        #expect(headers["Content-Type"] == "application/x-ndjson")
    }

    @Test func marksResumeAServerExactlyAfterItsLastDeliveredLine() {
        // Five lines, three of them in one millisecond (a burst), the first two of those delivered.
        let times = [1.000, 1.001, 1.001, 1.001, 1.002].map { Date(timeIntervalSince1970: 1_800_000_000 + $0) }
        let lines = times.enumerated().map { LogLine(time: $1, stream: .stdout, process: "run_1", text: "l\($0)") }
        let delivered = DrainBatch(drainID: "ldr_1", projectID: "prj_1", after: 0,
                                   items: lines.prefix(3).map { .log(serverID: "srv_1", line: $0) }, drops: 0, now: Date())
        var marks: [String: LogMark] = [:]
        delivered.advance(&marks)
        #expect(marks == ["srv_1": LogMark(millis: 1_800_000_001_001, count: 2)])
        // Read whole again (after a restart, the times as parsed back from the files).
        let reread = lines.map { LogLine(time: Date(timeIntervalSince1970: Double($0.millis) / 1000 + 1e-7), stream: $0.stream,
                                         process: $0.process, text: $0.text) }
        #expect(marks["srv_1"]!.undelivered(reread).map(\.text) == ["l3", "l4"])
        // A later batch of the same millisecond goes on counting.
        DrainBatch(drainID: "ldr_1", projectID: "prj_1", after: 3, items: [.log(serverID: "srv_1", line: lines[3])], drops: 0,
                   now: Date()).advance(&marks)
        #expect(marks["srv_1"] == LogMark(millis: 1_800_000_001_001, count: 3))
        #expect(marks["srv_1"]!.undelivered(reread).map(\.text) == ["l4"])
    }
}

@Suite struct DrainAddressPolicyTests {
    @Test func onlyGloballyRoutableAddressesArePublic() {
        let refused: [[UInt8]] = [
            [127, 0, 0, 1], [10, 1, 2, 3], [172, 16, 0, 1], [172, 31, 255, 255], [192, 168, 1, 1], [169, 254, 169, 254],
            [100, 64, 0, 1], [0, 0, 0, 0], [224, 0, 0, 1], [255, 255, 255, 255],
            [UInt8](repeating: 0, count: 15) + [1],  // ::1
            [UInt8](repeating: 0, count: 16),  // ::
            [0xfd, 0x12] + [UInt8](repeating: 0, count: 14),  // unique local
            [0xfe, 0x80] + [UInt8](repeating: 0, count: 14),  // link-local
            [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 127, 0, 0, 1],  // ::ffff:127.0.0.1
            [0x00, 0x64, 0xff, 0x9b] + [UInt8](repeating: 0, count: 8) + [10, 0, 0, 1],  // NAT64 of 10.0.0.1
        ]
        for address in refused { #expect(!DrainAddressPolicy.isPublic(address), "\(address)") }
        let allowed: [[UInt8]] = [
            [93, 184, 216, 34], [172, 32, 0, 1], [100, 128, 0, 1], [8, 8, 8, 8],
            [0x26, 0x06, 0x28, 0x00] + [UInt8](repeating: 0, count: 11) + [1],
            [UInt8](repeating: 0, count: 10) + [0xff, 0xff, 8, 8, 8, 8],
        ]
        for address in allowed { #expect(DrainAddressPolicy.isPublic(address), "\(address)") }
    }
}
