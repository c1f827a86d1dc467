import Foundation

/// Budgets: leases and the append-only ledger (the tables `leases` and `ledger_entries`).
public protocol LedgerRepository: Sendable {
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
}
