import Foundation

/// The durable store. Every change and its activity event go through one `write` transaction.
public protocol Store: Sendable {
    /// Runs `body` in one transaction: all of it commits, or none of it.
    func write<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T
    /// Runs `body` against a consistent view, without taking the write lock.
    func read<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T
}

/// A page of a list, with the opaque cursor of the next page.
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextCursor: String?
    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// Filters of the activity feed.
public struct ActivityQuery: Sendable {
    public var accountID: String
    /// nil: every event; otherwise only events of these projects.
    public var projectIDs: Set<String>?
    public var action: String?
    /// The opaque cursor of the previous page.
    public var cursor: String?
    public var limit: Int
    public init(accountID: String, projectIDs: Set<String>? = nil, action: String? = nil, cursor: String? = nil, limit: Int = 50) {
        self.accountID = accountID
        self.projectIDs = projectIDs
        self.action = action
        self.cursor = cursor
        self.limit = limit
    }
}

/// A stretch of the activity chain in chain order (exports, drains).
public struct ActivityRange: Sendable {
    public var accountID: String
    /// nil: every event; otherwise only events of these projects.
    public var projectIDs: Set<String>?
    /// nil: every action; otherwise this one only.
    public var action: String?
    /// Events with a greater `seq` only.
    public var afterSeq: Int64
    /// Inclusive bounds on the event's time.
    public var since: Date?
    public var until: Date?
    public var limit: Int
    public init(accountID: String, projectIDs: Set<String>? = nil, action: String? = nil, afterSeq: Int64 = 0,
                since: Date? = nil, until: Date? = nil, limit: Int = 500) {
        self.accountID = accountID
        self.projectIDs = projectIDs
        self.action = action
        self.afterSeq = afterSeq
        self.since = since
        self.until = until
        self.limit = limit
    }
}

/// Where one account's activity chain stands.
public struct ChainHead: Sendable, Equatable {
    public var accountID: String
    public var seq: Int64
    public var hash: String
    public init(accountID: String, seq: Int64, hash: String) {
        self.accountID = accountID
        self.seq = seq
        self.hash = hash
    }
}

/// A stored answer to a request that carried an `Idempotency-Key`.
public struct IdempotencyRecord: Sendable, Equatable {
    public var id: String
    public var accountID: String
    public var fingerprint: String
    /// nil while the first request is still being handled.
    public var status: Int?
    public var contentType: String?
    /// The answer's body, sealed under a key derived from the Idempotency-Key itself.
    public var sealedBody: [UInt8]?
    public var createdAt: Date
    public init(id: String, accountID: String, fingerprint: String, status: Int?, contentType: String?,
                sealedBody: [UInt8]?, createdAt: Date) {
        self.id = id
        self.accountID = accountID
        self.fingerprint = fingerprint
        self.status = status
        self.contentType = contentType
        self.sealedBody = sealedBody
        self.createdAt = createdAt
    }
}

/// The store's operations, inside one transaction (or one read).
public protocol StoreTransaction: Sendable {
    // Accounts
    func insert(_ account: Account) async throws
    func account(id: String) async throws -> Account?
    func account(email: String) async throws -> Account?
    func updatePasswordHash(accountID: String, hash: String) async throws
    /// nil removes the limit.
    func setSpendingLimit(accountID: String, limit: MicroDollars?) async throws
    /// Serialises writers of one account (its activity chain) until the transaction ends.
    func lockAccount(id: String) async throws

    // Sessions
    func insert(_ session: Session) async throws
    func session(tokenHash: String) async throws -> Session?
    func deleteSession(id: String) async throws
    func deleteSessions(accountID: String, except keepID: String?) async throws

    // Login throttling
    /// Serialises throttling decisions on `key` until the transaction ends (PostgreSQL: an
    /// advisory lock; SQLite's write transactions already exclude each other).
    func lockThrottle(key: String) async throws
    /// Records a failure (or an attempt about to be checked, under `attemptID`) and forgets that
    /// key's failures older than `forgetBefore`.
    func recordLoginFailure(key: String, attemptID: String?, at: Date, forgetBefore: Date) async throws
    /// Failures (and attempts in flight) for `key` since `since`, and the oldest of them.
    func loginFailures(key: String, since: Date) async throws -> (count: Int, oldest: Date?)
    /// Forgets an attempt that turned out right, under every key it was recorded for.
    func forgetLoginAttempt(id: String) async throws

    // API keys
    func insert(_ key: APIKey) async throws
    func apiKey(tokenHash: String) async throws -> APIKey?
    func apiKey(id: String, accountID: String) async throws -> APIKey?
    func apiKeys(accountID: String, cursor: String?, limit: Int) async throws -> Page<APIKey>
    func revokeAPIKey(id: String, at: Date) async throws
    func touchAPIKey(id: String, at: Date) async throws

    // Projects
    func insert(_ project: Project) async throws
    func project(id: String, accountID: String) async throws -> Project?
    func project(slug: String) async throws -> Project?
    /// The project at `slug` if it is public: a private one and an unknown one are the same miss,
    /// in the same query, so the ingress cannot tell them apart by time either.
    func publicProject(slug: String) async throws -> Project?
    func projects(accountID: String, only: Set<String>?, cursor: String?, limit: Int) async throws -> Page<Project>
    func update(_ project: Project) async throws
    func deleteProject(id: String) async throws
    /// The slugs of every public project, of every account (the certificates to hold).
    func publicProjectSlugs() async throws -> [String]

    // Activity
    /// Appends `record` to the account's chain; call `lockAccount` first in the same transaction.
    @discardableResult
    func append(_ record: ActivityRecord, accountID: String, at: Date) async throws -> ActivityEvent
    func activity(_ query: ActivityQuery) async throws -> Page<ActivityEvent>
    /// Every event of the account, in chain order.
    func chain(accountID: String) async throws -> [ActivityEvent]
    /// At most `range.limit` events of the range, oldest first.
    func activity(in range: ActivityRange) async throws -> [ActivityEvent]
    func accountIDsWithActivity() async throws -> [String]
    /// Each account's newest event: where its chain stands.
    func chainHeads() async throws -> [ChainHead]
    /// Replaces an event's MAC (a master key rotation seals the chain under the new key).
    func setActivityMAC(eventID: String, mac: String) async throws

    // Servers
    func insert(_ server: Server) async throws
    func server(id: String, accountID: String) async throws -> Server?
    /// Every server not deleted, of every account: the reconciler's view.
    func liveServers() async throws -> [Server]
    func servers(accountID: String, projectIDs: Set<String>?, cursor: String?, limit: Int) async throws -> Page<Server>
    func update(_ server: Server) async throws
    /// The lowest uid block no live server holds.
    func freeUIDSlot() async throws -> Int

    // Runs
    func insert(_ run: Run) async throws
    func update(_ run: Run) async throws
    func run(id: String, serverID: String) async throws -> Run?
    /// Forgets a run that never ran (the runtime refused it).
    func deleteRun(id: String) async throws
    /// Runs without their output, newest first.
    func runs(serverID: String, cursor: String?, limit: Int) async throws -> Page<Run>
    /// Marks waited-for runs still `running` as `lost` (the control plane stopped while they ran);
    /// background runs are left to their supervisors.
    func loseRunningRuns(at: Date) async throws -> Int

    // Vault
    /// The master key's fingerprint the data was sealed with; nil before the first key.
    func vaultFingerprint() async throws -> String?
    func setVaultFingerprint(_ fingerprint: String) async throws
    /// A project's data key, wrapped by the master key (and, version 2, its shred key).
    func wrappedDataKey(projectID: String) async throws -> WrappedDataKey?
    func insertWrappedDataKey(projectID: String, _ key: WrappedDataKey, at: Date) async throws
    /// Every project's wrapped data key (for rotating the master key).
    func wrappedDataKeys() async throws -> [(projectID: String, key: WrappedDataKey)]
    func updateWrappedDataKey(projectID: String, _ key: WrappedDataKey) async throws
    /// Crypto-shredding, the database's half: the project's wrapped data key and every sealed
    /// secret of the project go.
    func deleteDataKeyAndSecrets(projectID: String) async throws

    // Secrets
    func secret(_ address: SecretAddress) async throws -> SecretRecord?
    /// A project's secrets (both scopes when `serverID` is nil; else that server's and the project's).
    func secrets(projectID: String, serverID: String?) async throws -> [SecretRecord]
    /// Inserts, or replaces the sealed value and bumps the version of, the secret at its address.
    func upsert(_ secret: SecretRecord) async throws
    func deleteSecret(_ address: SecretAddress) async throws
    /// Removes a server's own secrets (the server is deleted).
    func deleteSecrets(serverID: String) async throws

    // Budgets
    func insert(_ lease: Lease) async throws
    /// When each server's newest unsettled lease began and its latest deadline (the metering
    /// loop's view).
    func openLeaseTerms() async throws -> [String: LeaseTerm]
    /// A server's leases not yet settled, oldest first.
    func openLeases(serverID: String) async throws -> [Lease]
    /// Marks a lease settled and appends its entries; false (and nothing written) if it was
    /// already settled. Call `lockAccount` first in the same transaction.
    func settle(leaseID: String, entries: [LedgerEntry], at: Date) async throws -> Bool
    /// Appends entries to a server's ledger (reservations); entries are never changed.
    func appendLedger(_ entries: [LedgerEntry], serverID: String, accountID: String, at: Date) async throws
    func ledgerBalance(serverID: String) async throws -> LedgerBalance
    /// Over every server of the account (for its spending limit).
    func ledgerBalance(accountID: String) async throws -> LedgerBalance
    /// What the account's servers may ever spend: the caps of those that live and what the
    /// deleted ones were charged. A spending limit bounds this.
    func committedBudget(accountID: String) async throws -> MicroDollars
    /// What the servers a key and the keys made under it created commit (as `committedBudget`),
    /// and how many of them live.
    func keyCommitment(keyID: String) async throws -> (budget: MicroDollars, servers: Int)

    // Deployments
    /// Inserts a deployment, marking the server's current one replaced.
    func insert(_ deployment: Deployment) async throws
    func currentDeployment(serverID: String) async throws -> Deployment?
    /// Counts a restart the health monitor made.
    func addMonitorRestart(deploymentID: String) async throws

    // Health
    func insert(_ probes: [HealthProbe]) async throws
    /// Probes of a project's apps since `since`: how many, and how many healthy.
    func probeCounts(projectID: String, since: Date) async throws -> (total: Int, healthy: Int)
    func deleteProbes(before: Date) async throws
    func insert(_ incident: Incident) async throws
    func latestProbe(deploymentID: String) async throws -> HealthProbe?
    func openIncident(serverID: String) async throws -> Incident?
    /// The server's newest incident, open or ended.
    func latestIncident(serverID: String) async throws -> Incident?
    /// Updates an incident's reason, crashes, last exit code, update and end time (nil reopens it).
    func update(_ incident: Incident) async throws
    func closeIncident(id: String, at: Date) async throws
    /// A project's incidents open or ended since `since`, newest first.
    func incidents(projectID: String, since: Date) async throws -> [Incident]

    // Usage
    func insert(_ samples: [UsageSample]) async throws
    /// A server's samples in [since, until) reduced per bucket of `step` (from `since`), oldest
    /// first; buckets without samples are left out.
    func usagePoints(serverID: String, since: Date, until: Date, step: TimeInterval) async throws -> [UsagePoint]
    /// Folds every sample before `before` into anonymous daily aggregates (added to what a
    /// day already has, with `logLines` per day) and deletes them; returns how many went.
    func retireUsageSamples(before: Date, logLines: [String: Int64]) async throws -> Int
    func dailyUsage() async throws -> [DailyUsage]

    // Account deletion
    /// Marks the account as being deleted: from then on a restart finishes the job.
    func markAccountDeleting(id: String, at: Date) async throws
    /// Accounts marked as being deleted whose rows are still there.
    func accountsBeingDeleted() async throws -> [String]
    /// Ends every credential of the account: sessions, API keys and export links.
    func deleteCredentials(accountID: String) async throws
    /// Every project id of the account.
    func projectIDs(accountID: String) async throws -> [String]
    /// Every server of the account not yet deleted.
    func liveServers(accountID: String) async throws -> [Server]
    /// Deletes every row that names the account (its activity chain included) and the account.
    func deleteAccountRows(accountID: String, email: String) async throws

    // Exports
    func insert(_ export: ExportLink) async throws
    /// Takes the link for its one download: returns it and deletes it, if it exists and has
    /// not expired (an expired one is deleted too).
    func claimExport(tokenHash: String, at: Date) async throws -> ExportLink?
    /// Everything an export holds that the other reads do not give whole.
    func runsWithOutput(serverID: String, after: String?, limit: Int) async throws -> [Run]
    func allServers(accountID: String) async throws -> [Server]
    func usageSamples(serverID: String, after: Date?, limit: Int) async throws -> [UsageSample]
    func ledgerEntries(accountID: String) async throws -> [StoredLedgerEntry]
    // Log drains
    func insert(_ drain: LogDrain) async throws
    func logDrain(id: String, projectID: String) async throws -> LogDrain?
    /// A project's drains, oldest first.
    func logDrains(projectID: String) async throws -> [LogDrain]
    /// The drains `owner` (one control plane) delivers until `until`: those it holds already and
    /// those nobody holds or whose holder let its claim lapse by `now`. Replicas sharing the
    /// store so deliver each drain once; a stopped one's drains pass on when its claims lapse.
    func claimLogDrains(owner: String, until: Date, now: Date) async throws -> [LogDrain]
    /// Gives up `owner`'s claims (a stopping control plane), for another to take at once.
    func releaseLogDrains(owner: String) async throws
    func deleteLogDrain(id: String) async throws
    /// Saves a drain's progress; nothing if the drain is gone.
    func updateLogDrainProgress(id: String, _ progress: DrainProgress) async throws

    // Idempotency
    func idempotencyRecord(id: String) async throws -> IdempotencyRecord?
    /// Inserts a pending record; false if one with that id exists.
    func insertPending(_ record: IdempotencyRecord) async throws -> Bool
    func complete(idempotencyID: String, status: Int, contentType: String?, sealedBody: [UInt8]) async throws
    func deleteIdempotencyRecord(id: String) async throws
}

/// A write that broke a uniqueness rule (a taken slug or email, a reused id).
public struct UniqueViolation: Error, Sendable {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
}

extension StoreTransaction {
    /// Version 1 (the master key alone): how keys from before shred keys were stored.
    public func insertWrappedDataKey(projectID: String, wrapped: Data, at: Date) async throws {
        try await insertWrappedDataKey(projectID: projectID, WrappedDataKey(wrapped: wrapped, version: 1), at: at)
    }
}

extension StoreTransaction {
    public func recordLoginFailure(key: String, at: Date, forgetBefore: Date) async throws {
        try await recordLoginFailure(key: key, attemptID: nil, at: at, forgetBefore: forgetBefore)
    }
}
