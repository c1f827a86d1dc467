import Foundation
@testable import S4ADomain
import Testing

/// A small seeded generator: property tests that fail say which seed to replay.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {  // splitmix64
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct BudgetTests {
    let card = RateCard.standard

    @Test func theDefaultsPriceAnAllocationExactly() {
        // 1 vCPU and 1 GiB for one second: 14 + 4.5 µ$, rounded up once.
        #expect(card.cost(cpuMillis: 1000, memoryMB: 1024, milliseconds: 1000) == MicroDollars(19))
        // 2 seconds of the same: 37 exactly, not 2 × 19.
        #expect(card.cost(cpuMillis: 1000, memoryMB: 1024, milliseconds: 2000) == MicroDollars(37))
        // An hour of 1 vCPU and 512 MiB: 3600 × (14 + 2.25) = 58 500 µ$.
        #expect(card.perHour(cpuMillis: 1000, memoryMB: 512) == MicroDollars(58_500))
        #expect(card.cost(cpuMillis: 4000, memoryMB: 8192, milliseconds: 0) == MicroDollars(0))
        let free = RateCard(cpuNanosPerVCPUSecond: 0, memoryNanosPerGiBSecond: 0, egressNanosPerGiB: 0)
        #expect(free.affordableMilliseconds(MicroDollars(5), cpuMillis: 1000, memoryMB: 512) == nil)
    }

    @Test func operatorPricesParseAsMicroDollarsToTheNano() {
        #expect(RateCard.nanos(fromMicros: "14") == 14_000)
        #expect(RateCard.nanos(fromMicros: "4.5") == 4_500)
        #expect(RateCard.nanos(fromMicros: "0.001") == 1)
        for bad in ["", "-1", "1.2345", "abc", "1e3", ".5", "1.", "1234567890"] {
            #expect(RateCard.nanos(fromMicros: bad) == nil, "\(bad)")
        }
    }

    @Test(arguments: 0..<20)
    func costIsMonotonicSubadditiveAndAffordabilityIsExact(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        for _ in 0..<500 {
            let cpu = Int.random(in: 100...4000, using: &random), memory = Int.random(in: 64...8192, using: &random)
            let a = Int64.random(in: 0...86_400_000, using: &random), b = Int64.random(in: 0...86_400_000, using: &random)
            let costA = card.cost(cpuMillis: cpu, memoryMB: memory, milliseconds: a)
            let costB = card.cost(cpuMillis: cpu, memoryMB: memory, milliseconds: b)
            let costAB = card.cost(cpuMillis: cpu, memoryMB: memory, milliseconds: a + b)
            #expect((a <= b) == (costA <= costB) || costA == costB, "seed \(seed)")
            #expect(costAB.value <= costA.value + costB.value && costA.value + costB.value <= costAB.value + 1, "seed \(seed)")
            let budget = MicroDollars(Int64.random(in: 0...10_000_000, using: &random))
            let affordable = card.affordableMilliseconds(budget, cpuMillis: cpu, memoryMB: memory)!
            #expect(card.cost(cpuMillis: cpu, memoryMB: memory, milliseconds: affordable) <= budget, "seed \(seed)")
            #expect(card.cost(cpuMillis: cpu, memoryMB: memory, milliseconds: affordable + 1) > budget, "seed \(seed)")
        }
    }

    /// A server renewing leases until its cap is spent, with random usage and control-plane
    /// deaths (a lease settled late, used in full): charged never passes the cap, reserves
    /// never exceed what is available, and every lease settles to exactly what it reserved.
    @Test(arguments: 0..<20)
    func leasesNeverSpendPastTheCap(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let cpu = Int.random(in: 100...4000, using: &random), memory = Int.random(in: 64...8192, using: &random)
        let cap = MicroDollars(Int64.random(in: 1...200_000, using: &random))
        let interval = Int64.random(in: 1000...10_000, using: &random)
        var ledger: [LedgerEntry] = []
        var balance = LedgerBalance(charged: MicroDollars(0), reserved: MicroDollars(0))
        var leases = 0
        while true {
            #expect(balance.reserved == MicroDollars(0), "seed \(seed)")
            guard let lease = LeasePlan.next(available: balance.available(under: cap), card: card, cpuMillis: cpu,
                                             memoryMB: memory, intervalMilliseconds: interval) else { break }
            #expect(lease.price <= balance.available(under: cap) && lease.milliseconds <= interval, "seed \(seed)")
            let id = "lease\(leases)"
            let reserve = LedgerEntry(kind: .reserve, amount: lease.price, leaseID: id)
            ledger.append(reserve)
            balance.apply(reserve)
            #expect(balance.charged.value + balance.reserved.value <= cap.value, "seed \(seed)")
            // Used: from half the lease to twice it (a late settlement still charges no more).
            let used = Int64.random(in: (lease.milliseconds / 2)...(lease.milliseconds * 2), using: &random)
            let settlement = LedgerBalance.settle(leaseID: id, reserved: lease.price,
                                                  used: card.cost(cpuMillis: cpu, memoryMB: memory, milliseconds: used))
            #expect(settlement.map(\.amount.value).reduce(0, +) == lease.price.value, "seed \(seed)")
            ledger += settlement
            settlement.forEach { balance.apply($0) }
            leases += 1
        }
        #expect(LedgerBalance(ledger) == balance, "seed \(seed)")
        let final = LedgerBalance(ledger)
        #expect(final.charged <= cap, "seed \(seed)")
        #expect(final.reserved == MicroDollars(0), "seed \(seed)")
        // Exhausted means less than a millisecond's worth is left.
        let rest = final.available(under: cap)
        #expect(card.cost(cpuMillis: cpu, memoryMB: memory, milliseconds: 1) > rest, "seed \(seed)")
    }
}
