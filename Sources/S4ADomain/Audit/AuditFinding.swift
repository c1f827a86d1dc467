import Foundation

/// One thing wrong with the audit trail: which check failed, for which account and event.
public struct AuditFinding: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Check: String, Sendable, CaseIterable {
        /// A link does not hold: an event was edited, removed or reordered without rehashing.
        case hashChain = "hash_chain"
        /// An event's MAC is missing or wrong: rewritten (and rehashed) without the key.
        case mac
        /// The chain ends before a checkpoint's seq: its last events were deleted.
        case truncated = "checkpoint_truncated"
        /// The event at a checkpoint's seq has another hash: the chain was rewritten.
        case rewritten = "checkpoint_rewritten"
        /// An account with checkpoints has no events at all: they were deleted.
        case missingAccount = "checkpoint_missing_account"
        /// A checkpoint line under the current key whose signature fails.
        case forgedCheckpoint = "checkpoint_forged"

        var label: String {
            switch self {
            case .hashChain: "hash chain"
            case .mac: "MAC"
            case .truncated: "checkpoint: truncated"
            case .rewritten: "checkpoint: rewritten"
            case .missingAccount: "checkpoint: missing account"
            case .forgedCheckpoint: "checkpoint: forged line"
            }
        }
    }

    public var check: Check
    /// Empty for a forged checkpoint line.
    public var accountID: String
    /// The event's seq (a checkpoint's seq for checkpoint checks; the line number for a forged line).
    public var seq: Int64
    public var eventID: String?
    public var detail: String

    public init(_ check: Check, accountID: String, seq: Int64, eventID: String? = nil, detail: String) {
        self.check = check
        self.accountID = accountID
        self.seq = seq
        self.eventID = eventID
        self.detail = detail
    }

    public var description: String {
        if check == .forgedCheckpoint { return "\(check.label): line \(seq) \(detail)" }
        let event = eventID.map { " (\($0))" } ?? ""
        return "\(check.label): account \(accountID): event #\(seq)\(event) \(detail)"
    }
}

/// The checks over one account's chain and the checkpoints of it.
public enum AuditVerification {
    /// Every failed check of one account's whole chain (in chain order; empty if none has
    /// events): its first hash-chain break, its first bad MAC, and how it stands against its
    /// latest checkpoint. At most one finding per check.
    public static func check(_ events: [ActivityEvent], keys: AuditKeys, checkpoint: AuditCheckpoint?) -> [AuditFinding] {
        var findings: [AuditFinding] = []
        if let broken = ActivityChain.verify(events) {
            findings.append(AuditFinding(.hashChain, accountID: broken.accountID, seq: broken.seq, eventID: broken.eventID,
                                         detail: broken.reason))
        }
        if let bad = events.first(where: { !keys.macMatches($0) }) {
            findings.append(AuditFinding(.mac, accountID: bad.accountID, seq: bad.seq, eventID: bad.id,
                                         detail: bad.mac == nil ? "has no MAC" : "has a MAC that does not match: it was written without the key"))
        }
        if let checkpoint { findings += against(checkpoint, events) }
        return findings
    }

    /// Truncation or rewrite against a checkpoint of the account's head.
    static func against(_ checkpoint: AuditCheckpoint, _ events: [ActivityEvent]) -> [AuditFinding] {
        guard checkpoint.kind == .head else { return [] }
        let account = checkpoint.accountID
        guard let last = events.last else {
            return [AuditFinding(.missingAccount, accountID: account, seq: checkpoint.seq,
                                 detail: "has no events, but a checkpoint of \(checkpoint.at) saw #\(checkpoint.seq)")]
        }
        guard let event = events.first(where: { $0.seq == checkpoint.seq }) else {
            return [truncated(checkpoint, endingAt: last.seq)]
        }
        guard event.hash == checkpoint.hash else {
            return [AuditFinding(.rewritten, accountID: account, seq: checkpoint.seq, eventID: event.id,
                                 detail: "has another hash than the checkpoint of \(checkpoint.at) recorded")]
        }
        return []
    }

    static func truncated(_ checkpoint: AuditCheckpoint, endingAt seq: Int64) -> AuditFinding {
        AuditFinding(.truncated, accountID: checkpoint.accountID, seq: checkpoint.seq,
                     detail: "is missing: the chain ends at #\(seq), but a checkpoint of \(checkpoint.at) saw #\(checkpoint.seq)")
    }

    /// Accounts the checkpoints know that have no events (and were not deleted on purpose).
    public static func missing(_ log: CheckpointLog, accountsWithEvents: Set<String>) -> [AuditFinding] {
        log.heads.values.filter { !accountsWithEvents.contains($0.accountID) && !log.deleted.contains($0.accountID) }
            .sorted { $0.accountID < $1.accountID }
            .flatMap { against($0, []) }
    }

    /// The forged lines of the file, as findings.
    public static func forged(_ log: CheckpointLog) -> [AuditFinding] {
        log.forged.map { AuditFinding(.forgedCheckpoint, accountID: "", seq: Int64($0), detail: "has a bad signature") }
    }
}
