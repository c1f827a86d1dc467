import Foundation

/// One movement of money for a server. Money moves only by appending these: a lease
/// *reserves* its price in advance; at renewal the time used is *charged* and the rest
/// *released*; the bytes the server sent out during the lease are charged as *egress*, never
/// past the cap. Nothing is ever updated or deleted.
public struct LedgerEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable { case reserve, charge, release, egress }

    public var kind: Kind
    public var amount: MicroDollars
    public var leaseID: String

    public init(kind: Kind, amount: MicroDollars, leaseID: String) {
        self.kind = kind
        self.amount = amount
        self.leaseID = leaseID
    }
}

/// Where a server's budget stands, summed from its ledger.
public struct LedgerBalance: Sendable, Equatable {
    /// Spent for good.
    public var charged: MicroDollars
    /// Held by leases not yet settled.
    public var reserved: MicroDollars

    public init(charged: MicroDollars, reserved: MicroDollars) {
        self.charged = charged
        self.reserved = reserved
    }

    public init(_ entries: some Sequence<LedgerEntry>) {
        self.init(charged: MicroDollars(0), reserved: MicroDollars(0))
        for entry in entries { apply(entry) }
    }

    /// The balance after one more entry.
    public mutating func apply(_ entry: LedgerEntry) {
        switch entry.kind {
        case .reserve: reserved.value += entry.amount.value
        case .charge: charged.value += entry.amount.value; reserved.value -= entry.amount.value
        case .release: reserved.value -= entry.amount.value
        case .egress: charged.value += entry.amount.value
        }
    }

    /// What is left under `cap` for new reservations.
    public func available(under cap: MicroDollars) -> MicroDollars {
        MicroDollars(max(0, cap.value - charged.value - reserved.value))
    }

    /// The entries that settle a lease that reserved `reserved` and used time costing `used`:
    /// never more than was reserved is charged, and the rest is released.
    public static func settle(leaseID: String, reserved: MicroDollars, used: MicroDollars) -> [LedgerEntry] {
        let charge = min(max(0, used.value), reserved.value)
        return [LedgerEntry(kind: .charge, amount: MicroDollars(charge), leaseID: leaseID),
                LedgerEntry(kind: .release, amount: MicroDollars(reserved.value - charge), leaseID: leaseID)]
    }
}

/// The next lease for a running server: a full interval while the budget buys one, then
/// whatever the rest buys; nil when nothing more is affordable (the server is exhausted).
public enum LeasePlan {
    public static func next(available: MicroDollars, card: RateCard, cpuMillis: Int, memoryMB: Int,
                            intervalMilliseconds: Int64) -> (milliseconds: Int64, price: MicroDollars)? {
        let full = card.cost(cpuMillis: cpuMillis, memoryMB: memoryMB, milliseconds: intervalMilliseconds)
        if full <= available { return (intervalMilliseconds, full) }
        guard let affordable = card.affordableMilliseconds(available, cpuMillis: cpuMillis, memoryMB: memoryMB),
              affordable > 0 else { return nil }
        return (affordable, card.cost(cpuMillis: cpuMillis, memoryMB: memoryMB, milliseconds: affordable))
    }
}
