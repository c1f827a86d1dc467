import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// Usage samples on both engines: reduced per bucket in SQL, counters turned into amounts
/// (a restart's reset included), and retired into anonymous days exactly once.
@Suite(.tags(.postgres), .needs(.postgres)) struct UsageStoreTests {
    @Test(arguments: Engine.allCases)
    func bucketsAndRetirement(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let server = try await makeServer(store, account)
            // Midnight UTC of some day, then a sample every 5 s for a minute; the CPU counter
            // grows 1 s per sample and restarts from zero (a restart) at the 7th.
            let day = Date(timeIntervalSince1970: TimeInterval(1_800_000_000 - 1_800_000_000 % 86_400))
            var samples: [UsageSample] = []
            for i in 0..<12 {
                let counter: Int64 = i < 6 ? Int64(i + 1) : Int64(i - 5)
                samples.append(UsageSample(serverID: server.id, accountID: account.id, at: day.addingTimeInterval(Double(i) * 5),
                                           cpuMicros: counter * 1_000_000, memoryBytes: 100 + Int64(i), pids: 2, diskBytes: 4096,
                                           networkReceivedBytes: Int64(i) * 10, networkSentBytes: 0,
                                           charged: MicroDollars(Int64(i) * 16)))
            }
            try await store.write { [samples] tx in try await tx.usage.insert(samples) }
            let points = try await store.read { tx in
                try await tx.usage.usagePoints(serverID: server.id, since: day, until: day.addingTimeInterval(60), step: 30)
            }
            #expect(points.map(\.at) == [day, day.addingTimeInterval(30)])
            // 6 s in each bucket: the first sample's counter counts whole (nothing came before);
            // in the second the counter restarted, so its first value (1 s) is all new use.
            #expect(points.map(\.cpuMicros) == [6_000_000, 6_000_000])
            #expect(points.map(\.memoryBytes) == [105, 111])
            #expect(points.map(\.charged) == [MicroDollars(80), MicroDollars(176)])
            #expect(points.map(\.networkReceivedBytes) == [50, 60])
            // A chart starting mid-way takes the sample before it as the baseline.
            let later = try await store.read { tx in
                try await tx.usage.usagePoints(serverID: server.id, since: day.addingTimeInterval(10), until: day.addingTimeInterval(60),
                                         step: 50)
            }
            #expect(later.map(\.cpuMicros) == [10_000_000])

            // Retiring before the next midnight folds the day into one row without ids.
            let retired = try await store.write { tx in
                try await tx.usage.retireUsageSamples(before: day.addingTimeInterval(86_400), logLines: [DailyUsage.dayName(day): 7])
            }
            #expect(retired >= 12)  // the PostgreSQL database is shared with earlier runs
            let daily = try await store.read { tx in try await tx.usage.dailyUsage() }.filter { $0.day == DailyUsage.dayName(day) }
            #expect(daily.count == 1)
            #expect(daily.first?.servers ?? 0 >= 1)
            #expect(daily.first.map { $0.samples >= 12 && $0.logLines >= 7 && $0.maxMemoryBytes >= 111 } == true)
            #expect(try await store.read { tx in
                try await tx.usage.usagePoints(serverID: server.id, since: day, until: day.addingTimeInterval(60), step: 30)
            }.isEmpty)
        }
    }
}
