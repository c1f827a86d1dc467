import Foundation

public struct Actor: Sendable, Equatable, Codable {
    /// `system`: the platform itself (the reconciler, the budget enforcer).
    public enum Kind: String, Sendable, Codable { case account, apiKey = "api_key", system }

    public static let system = Actor(type: .system, id: "s4a")
    public var type: Kind
    public var id: String
    public init(type: Kind, id: String) {
        self.type = type
        self.id = id
    }
}

public struct Target: Sendable, Equatable, Codable {
    public var type: String
    public var id: String
    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }
}

/// What a change records about itself, before the store places it in the account's chain.
public struct ActivityRecord: Sendable, Equatable {
    public var action: String
    public var actor: Actor
    public var target: Target
    public var projectID: String?
    public var metadata: [String: String]

    public init(action: String, actor: Actor, target: Target, projectID: String? = nil,
                metadata: [String: String] = [:]) {
        self.action = action
        self.actor = actor
        self.target = target
        self.projectID = projectID
        self.metadata = metadata
    }
}

/// One link of an account's append-only, hash-chained activity log.
public struct ActivityEvent: Sendable, Equatable {
    public var id: String
    public var accountID: String
    /// 1, 2, 3… within the account: the chain's order.
    public var seq: Int64
    public var at: Date
    public var record: ActivityRecord
    public var prevHash: String
    public var hash: String
    /// HMAC-SHA256 of the hash under a key derived from the master key (`AuditKeys`), hex;
    /// nil when the store has none for it.
    public var mac: String?

    public init(id: String, accountID: String, seq: Int64, at: Date, record: ActivityRecord,
                prevHash: String, hash: String, mac: String? = nil) {
        self.id = id
        self.accountID = accountID
        self.seq = seq
        self.at = at
        self.record = record
        self.prevHash = prevHash
        self.hash = hash
        self.mac = mac
    }
}

/// The actions recorded so far; later features add theirs here.
public enum Action {
    public static let accountCreated = "account.created"
    public static let accountPasswordChanged = "account.password_changed"
    public static let accountSpendingLimitChanged = "account.spending_limit_changed"
    public static let sessionCreated = "session.created"
    public static let sessionDeleted = "session.deleted"
    public static let apiKeyCreated = "api_key.created"
    public static let apiKeyRevoked = "api_key.revoked"
    public static let projectCreated = "project.created"
    public static let projectUpdated = "project.updated"
    public static let projectVisibilityChanged = "project.visibility_changed"
    public static let projectDeleted = "project.deleted"
    /// A person of the account was let in to the private project's URL (PreviewGrants).
    public static let projectPreviewGranted = "project.preview_granted"
    public static let serverCreated = "server.created"
    public static let serverStarted = "server.started"
    public static let serverStopped = "server.stopped"
    public static let serverDeleted = "server.deleted"
    public static let serverFailed = "server.failed"
    public static let serverDeployed = "server.deployed"
    public static let serverAppCrashed = "server.app_crashed"
    public static let serverAppRecovered = "server.app_recovered"
    public static let serverAttached = "server.attached"
    public static let serverDetached = "server.detached"
    public static let serverBudgetWarning = "server.budget_warning"
    public static let serverBudgetChanged = "server.budget_changed"
    public static let serverBudgetExhausted = "server.budget_exhausted"
    public static let secretSet = "secret.set"
    public static let runCancelled = "run.cancelled"
    public static let secretDeleted = "secret.deleted"
    public static let accountExported = "account.exported"
    /// Written as the deletion starts; it goes with the rest of the account's rows at its end.
    public static let accountDeletionStarted = "account.deletion_started"
    public static let projectDataKeyDestroyed = "project.data_key_destroyed"
    public static let logDrainCreated = "log_drain.created"
    public static let logDrainDeleted = "log_drain.deleted"
}
