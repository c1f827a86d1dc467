import Foundation

/// Anchors every account's activity chain outside the database: each round reads the chain
/// heads, checks the events added since an account's last checkpoint (links, hashes, MACs,
/// and that the checkpointed event is unchanged) and appends a signed checkpoint of each chain
/// that moved. A chain that fails those checks is not anchored: the round reports it instead.
public actor AuditAnchor {
    let store: any Store
    let keys: AuditKeys
    let file: CheckpointFile
    let now: @Sendable () -> Date
    private var log: CheckpointLog?

    public init(store: any Store, keys: AuditKeys, file: CheckpointFile, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = store
        self.keys = keys
        self.file = file
        self.now = now
    }

    public struct Round: Sendable {
        /// Checkpoints written.
        public var written = 0
        /// Chains left unanchored because they do not check out.
        public var findings: [AuditFinding] = []
    }

    /// One round; see the type.
    public func checkpoint() async throws -> Round {
        var log = try loaded()
        let (heads, deleting) = try await store.read { tx in
            (try await tx.activity.chainHeads(), Set(try await tx.accountDeletion.accountsBeingDeleted()))
        }
        var round = Round()
        var made: [AuditCheckpoint] = []
        for head in heads where !log.deleted.contains(head.accountID) && !deleting.contains(head.accountID) {
            let last = log.heads[head.accountID]
            if let last, last.seq == head.seq, last.hash == head.hash { continue }
            if let last, head.seq < last.seq {
                round.findings.append(AuditVerification.truncated(last, endingAt: head.seq))
                continue
            }
            switch try await checkedHead(head.accountID, after: last) {
            case .failure(let finding): round.findings.append(finding)
            case .success(nil): continue
            case .success(let event?):
                made.append(try AuditCheckpoint.make(.head, accountID: event.accountID, seq: event.seq, hash: event.hash,
                                                     at: now(), keys: keys))
            }
        }
        let present = Set(heads.map(\.accountID))
        round.findings += AuditVerification.missing(log, accountsWithEvents: present)
            .filter { !deleting.contains($0.accountID) }
        try file.append(made)
        for checkpoint in made { log.record(checkpoint) }
        self.log = log
        round.written = made.count
        return round
    }

    /// Records that the account is being deleted on purpose, before its events go.
    public func accountDeleted(_ accountID: String) async throws {
        var log = try loaded()
        guard !log.deleted.contains(accountID) else { return }
        let last = log.heads[accountID]
        let checkpoint = try AuditCheckpoint.make(.deleted, accountID: accountID, seq: last?.seq ?? 0,
                                                  hash: last?.hash ?? ActivityChain.genesis, at: now(), keys: keys)
        try file.append([checkpoint])
        log.record(checkpoint)
        self.log = log
    }

    /// The account's latest checkpoint, for the audit export.
    public func latest(accountID: String) throws -> AuditCheckpoint? {
        let log = try loaded()
        return log.deleted.contains(accountID) ? nil : log.heads[accountID]
    }

    public nonisolated var publicKey: String { keys.publicKey }

    private func loaded() throws -> CheckpointLog {
        if let log { return log }
        let read = try file.read(keys: keys)
        log = read
        return read
    }

    /// The account's newest event, once everything after `last` checks out; nil if the chain
    /// did not move after all.
    private func checkedHead(_ accountID: String, after last: AuditCheckpoint?) async throws -> Result<ActivityEvent?, AuditFinding> {
        // From the checkpointed event itself, to see that it is still there and unchanged.
        let from = max(0, (last?.seq ?? 0) - 1)
        var events: [ActivityEvent] = []
        while true {
            let range = ActivityRange(accountID: accountID, afterSeq: events.last?.seq ?? from, limit: ActivityExport.pageSize)
            let page = try await store.read { tx in try await tx.activity.activity(in: range) }
            events += page
            if page.count < range.limit { break }
        }
        var previous: (seq: Int64, hash: String)?
        if let last {
            if let finding = AuditVerification.against(last, events).first { return .failure(finding) }
            events.removeFirst()
            previous = (last.seq, last.hash)
        }
        if let broken = ActivityChain.verify(events, after: previous) {
            return .failure(AuditFinding(.hashChain, accountID: accountID, seq: broken.seq, eventID: broken.eventID,
                                         detail: broken.reason))
        }
        if let bad = events.first(where: { !keys.macMatches($0) }) {
            return .failure(AuditFinding(.mac, accountID: accountID, seq: bad.seq, eventID: bad.id,
                                         detail: bad.mac == nil ? "has no MAC" : "has a MAC that does not match"))
        }
        return .success(events.last)
    }
}
