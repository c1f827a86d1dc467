import Foundation

/// The durable store. Every change and its activity event go through one `write` transaction.
public protocol Store: Sendable {
    /// Runs `body` in one transaction: all of it commits, or none of it. Writers on SQLite run
    /// one at a time; on PostgreSQL they run side by side at READ COMMITTED, so a check and the
    /// write it allows go under `lockAccount` (or a lock of their own) in the same transaction.
    func write<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T
    /// Runs `body` in one read-only transaction on one connection: every statement in it sees the
    /// same snapshot of committed data (taken at its first statement), so several reads agree
    /// with each other even while writers commit; and `body` cannot write (a write throws). It
    /// neither takes nor waits for the write lock, but holds its connection (and, on SQLite, a
    /// snapshot that keeps the write-ahead log from being checkpointed past it) until it
    /// returns: read, compute, return; do slow work (the runtime, the network) outside.
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

/// One transaction (or one read) of the store, reached through its repositories, one per
/// aggregate: a service names the tables it works on (`tx.servers`, `tx.ledger`, `tx.vault`…)
/// and sees nothing else of a repository it does not ask for. All of them work inside the same
/// transaction, so what one writes the next reads, and all of it commits or none of it.
public protocol StoreTransaction: Sendable {
    /// Accounts, their sessions and login throttling.
    var accounts: any AccountRepository { get }
    /// Deleting an account: its marker and every row that names it.
    var accountDeletion: any AccountDeletionRepository { get }
    /// API keys.
    var keys: any APIKeyRepository { get }
    var projects: any ProjectRepository { get }
    /// Servers and the runs in them.
    var servers: any ServerRepository { get }
    var deployments: any DeploymentRepository { get }
    /// Leases and the ledger: budgets.
    var ledger: any LedgerRepository { get }
    var usage: any UsageRepository { get }
    /// The hash-chained activity log.
    var activity: any ActivityRepository { get }
    /// Secrets and the data keys that seal them.
    var vault: any VaultRepository { get }
    var logDrains: any LogDrainRepository { get }
    /// Export links and the whole-record reads of an export.
    var exports: any ExportRepository { get }
    /// Health probes and incidents.
    var health: any HealthRepository { get }
    var idempotency: any IdempotencyRepository { get }

    /// Serialises writers of one account until the transaction ends: its activity chain, its
    /// ledger and the checks (limits, budgets, membership) that guard what they write. Cuts
    /// across repositories, so it lives here. Only inside `write` (PostgreSQL refuses the row
    /// lock in a read-only transaction).
    func lockAccount(id: String) async throws
}

/// A write that broke a uniqueness rule (a taken slug or email, a reused id).
public struct UniqueViolation: Error, Sendable {
    public var detail: String
    public init(_ detail: String) { self.detail = detail }
}
