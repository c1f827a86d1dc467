import Foundation
import S4ADomain
import Testing

/// The MAC over each event and the signed checkpoints of each chain's head: what a rewrite
/// without the master key cannot reproduce, and a checkpoint file read as hostile input.
@Suite struct AuditAnchorTests {
    let keys: AuditKeys
    init() throws { keys = try AuditKeys(master: MasterKey.generate()) }

    func chain(_ count: Int, keys: AuditKeys) -> [ActivityEvent] {
        var events: [ActivityEvent] = []
        for index in 0..<count {
            let record = ActivityRecord(action: "project.created", actor: Actor(type: .account, id: "acc_1"),
                                        target: Target(type: "project", id: "prj_\(index)"), metadata: ["name": "P\(index)"])
            var event = ActivityChain.link(record, accountID: "acc_1", at: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)),
                                           after: events.last.map { ($0.seq, $0.hash) })
            event.mac = keys.mac(event)
            events.append(event)
        }
        return events
    }

    /// Edits event `index` and recomputes the plain chain from there, as anyone with the
    /// database can; the MACs are left as they were unless `macKeys` re-makes them.
    func rewrite(_ events: [ActivityEvent], at index: Int, macKeys: AuditKeys? = nil) -> [ActivityEvent] {
        var events = events
        events[index].record.metadata["name"] = "forged"
        for i in index..<events.count {
            let e = events[i]
            let prev = i == 0 ? ActivityChain.genesis : events[i - 1].hash
            events[i].prevHash = prev
            events[i].hash = ActivityChain.hash(accountID: e.accountID, seq: e.seq, id: e.id, at: e.at, record: e.record,
                                                prevHash: prev)
            if let macKeys { events[i].mac = macKeys.mac(events[i]) }
        }
        return events
    }

    func head(_ events: [ActivityEvent]) throws -> AuditCheckpoint {
        let last = try #require(events.last)
        return try AuditCheckpoint.make(.head, accountID: last.accountID, seq: last.seq, hash: last.hash, at: Date(), keys: keys)
    }

    @Test func anUntouchedChainPassesEveryCheck() throws {
        let events = chain(5, keys: keys)
        #expect(AuditVerification.check(events, keys: keys, checkpoint: try head(events)).isEmpty)
        #expect(AuditVerification.check(Array(events.prefix(3)), keys: keys, checkpoint: try head(Array(events.prefix(3)))).isEmpty)
    }

    @Test func aRecomputedRewriteFailsItsMACAndTheCheckpoint() throws {
        let events = chain(5, keys: keys)
        let checkpoint = try head(events)
        let rewritten = rewrite(events, at: 2)
        #expect(ActivityChain.verify(rewritten) == nil)  // the plain chain alone is fooled
        let findings = AuditVerification.check(rewritten, keys: keys, checkpoint: checkpoint)
        #expect(findings.map(\.check) == [.mac, .rewritten])
        #expect(findings.first?.seq == 3 && findings.first?.eventID == events[2].id)
        #expect(findings.last?.seq == 5)
    }

    @Test func macsMadeWithoutTheKeyDoNotPass() throws {
        let events = chain(5, keys: keys)
        let attacker = try AuditKeys(master: MasterKey.generate())
        let rewritten = rewrite(events, at: 1, macKeys: attacker)
        let findings = AuditVerification.check(rewritten, keys: keys, checkpoint: try head(events))
        #expect(findings.map(\.check) == [.mac, .rewritten])
        #expect(findings.first?.seq == 2)
        // A MAC copied from another event, a missing one, and non-hex all fail too.
        for mac in [events[0].mac, nil, "zz", String(repeating: "a", count: 64), ""] {
            var copied = events
            copied[3].mac = mac
            #expect(AuditVerification.check(copied, keys: keys, checkpoint: nil).map(\.seq) == [4])
        }
    }

    @Test func truncationAndDeletionAreSeenAgainstTheCheckpoint() throws {
        let events = chain(5, keys: keys)
        let checkpoint = try head(events)
        let truncated = AuditVerification.check(Array(events.prefix(3)), keys: keys, checkpoint: checkpoint)
        #expect(truncated.map(\.check) == [.truncated])
        #expect(truncated.first?.seq == 5 && truncated.first?.accountID == "acc_1")
        let gone = AuditVerification.check([], keys: keys, checkpoint: checkpoint)
        #expect(gone.map(\.check) == [.missingAccount])
        var log = CheckpointLog()
        log.heads["acc_1"] = checkpoint
        #expect(AuditVerification.missing(log, accountsWithEvents: []).map(\.check) == [.missingAccount])
        log.deleted.insert("acc_1")
        #expect(AuditVerification.missing(log, accountsWithEvents: []).isEmpty)
    }

    @Test func checkpointsRoundTripAndAnyChangedFieldBreaksTheSignature() throws {
        let checkpoint = try AuditCheckpoint.make(.head, accountID: "acc_1", seq: 7, hash: String(repeating: "ab", count: 32),
                                                  at: Date(timeIntervalSince1970: 1_800_000_000), keys: keys)
        let parsed = try #require(AuditCheckpoint.parse(checkpoint.jsonLine))
        #expect(parsed == checkpoint && parsed.isSigned(by: keys))
        var edits = [parsed, parsed, parsed, parsed, parsed]
        edits[0].seq = 8
        edits[1].hash = String(repeating: "cd", count: 32)
        edits[2].accountID = "acc_2"
        edits[3].kind = .deleted
        edits[4].at = "2030-01-01T00:00:00.000Z"
        for edited in edits { #expect(!edited.isSigned(by: keys)) }
        #expect(!parsed.isSigned(by: try AuditKeys(master: MasterKey.generate())))
    }

    func temporaryFile() -> CheckpointFile {
        CheckpointFile(path: FileManager.default.temporaryDirectory
            .appendingPathComponent("s4a-audit-\(UUID().uuidString)/audit/checkpoints.jsonl").path)
    }

    @Test func theFileIsPrivateAndKeepsEachAccountsHighestHead() throws {
        let file = temporaryFile()
        defer { try? FileManager.default.removeItem(atPath: (file.path as NSString).deletingLastPathComponent) }
        let hash = String(repeating: "0f", count: 32)
        try file.append([try AuditCheckpoint.make(.head, accountID: "acc_a", seq: 3, hash: hash, at: Date(), keys: keys),
                         try AuditCheckpoint.make(.head, accountID: "acc_b", seq: 1, hash: hash, at: Date(), keys: keys)])
        try file.append([try AuditCheckpoint.make(.head, accountID: "acc_a", seq: 9, hash: hash, at: Date(), keys: keys),
                         try AuditCheckpoint.make(.deleted, accountID: "acc_b", seq: 1, hash: hash, at: Date(), keys: keys)])
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let log = try file.read(keys: keys)
        #expect(log.heads["acc_a"]?.seq == 9 && log.deleted == ["acc_b"] && log.unreadable == 0 && log.forged.isEmpty)
        #expect(try temporaryFile().read(keys: keys) == CheckpointLog())  // no file yet: nothing known
    }

    @Test func hostileCheckpointLinesAreSkippedNeverTrusted() throws {
        let file = temporaryFile()
        let directory = (file.path as NSString).deletingLastPathComponent
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let hash = String(repeating: "0f", count: 32)
        let good = try AuditCheckpoint.make(.head, accountID: "acc_good", seq: 4, hash: hash, at: Date(), keys: keys)
        var forged = good
        forged.seq = 40
        let foreign = try AuditCheckpoint.make(.head, accountID: "acc_other", seq: 2, hash: hash, at: Date(),
                                               keys: try AuditKeys(master: MasterKey.generate()))
        let line = good.jsonLine
        var lines: [[UInt8]] = [
            line,
            Array(line.prefix(line.count / 2)),                                  // torn
            [0x00, 0xff, 0xfe, 0x7b, 0x22, 0x0a - 1],                            // garbage, invalid UTF-8
            [UInt8](repeating: UInt8(ascii: "x"), count: 3 << 20),               // huge
            Array(#"{"v":1,"kind":"head","account_id":"acc_x","seq":1e400,"hash":"\#(hash)","at":"x","key_id":"\#(keys.keyID)","sig":"x"}"#.utf8),
            Array(#"{"v":1,"kind":"head","account_id":"acc_x","seq":-1,"hash":"\#(hash)","at":"x","key_id":"\#(keys.keyID)","sig":"x"}"#.utf8),
            Array(#"{"v":1,"kind":"head","account_id":"acc_x","seq":9223372036854775807,"hash":"\#(hash)","at":"x","key_id":"\#(keys.keyID)","sig":"x"}"#.utf8),
            Array(#"{"v":1,"kind":"head","account_id":"acc\nx","seq":1,"hash":"\#(hash)","at":"x","key_id":"\#(keys.keyID)","sig":"x"}"#.utf8),
            Array(#"{"v":1,"kind":"boom","account_id":"acc_x","seq":1,"hash":"\#(hash)","at":"x","key_id":"\#(keys.keyID)","sig":"x"}"#.utf8),
            Array("[1,2,3]".utf8), Array("null".utf8), Array(#"{"v":"#.utf8),
            forged.jsonLine,
            foreign.jsonLine,
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            lines.append((0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                .map { $0 == 0x0a ? 0x20 : $0 })
        }
        var bytes: [UInt8] = []
        for l in lines { bytes += l + [0x0a] }
        bytes += Array(line.prefix(30))  // a torn last line, no newline
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: file.path))
        let log = try file.read(keys: keys)
        #expect(log.heads == ["acc_good": good])
        #expect(log.forged.count == 1 && log.otherKey == 1)
        #expect(log.unreadable >= 12)
        #expect(AuditVerification.forged(log).map(\.check) == [.forgedCheckpoint])
        // An append after the torn line starts on a line of its own and is read back.
        let later = try AuditCheckpoint.make(.head, accountID: "acc_good", seq: 5, hash: hash, at: Date(), keys: keys)
        try file.append([later])
        #expect(try file.read(keys: keys).heads["acc_good"] == later)
    }

    @Test func randomBytesNeverParseIntoACheckpoint() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...2048, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(AuditCheckpoint.parse(bytes) == nil)
        }
    }
}
