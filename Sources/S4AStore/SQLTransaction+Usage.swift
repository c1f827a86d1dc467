import Foundation
import S4ADomain
import SQLKit

/// Usage samples, reduced per bucket in SQL so that a chart over a month reads as many rows as
/// it has points; and their retirement into anonymous daily aggregates.
extension SQLTransaction: UsageRepository {
    func insert(_ samples: [UsageSample]) async throws {
        for sample in samples {
            try await db.raw("""
                INSERT INTO usage_samples (server_id, account_id, sampled_at, cpu_micros, memory_bytes, pids, disk_bytes,
                                           net_rx_bytes, net_tx_bytes, charged_micros)
                VALUES (\(bind: sample.serverID), \(bind: sample.accountID), \(bind: sample.at.millis), \(bind: sample.cpuMicros),
                        \(bind: sample.memoryBytes), \(bind: sample.pids), \(bind: sample.diskBytes),
                        \(bind: sample.networkReceivedBytes), \(bind: sample.networkSentBytes), \(bind: sample.charged.value))
                """).run()
        }
    }

    func usagePoints(serverID: String, since: Date, until: Date, step: TimeInterval) async throws -> [UsagePoint] {
        let stepMillis = max(1, Int64(step * 1000))
        // Each sample's growth over the one before it (LAG), the last sample before `since`
        // included as the first one's baseline; a counter that fell restarted from zero.
        func growth(_ column: String) -> String {
            "CASE WHEN prev_\(column) IS NULL OR \(column) < prev_\(column) THEN \(column) ELSE \(column) - prev_\(column) END"
        }
        let rows = try await db.raw("""
            SELECT (sampled_at - \(bind: since.millis)) / \(bind: stepMillis) AS bucket,
                   CAST(SUM(\(unsafeRaw: growth("cpu_micros"))) AS BIGINT) AS cpu, MAX(memory_bytes) AS memory, MAX(pids) AS pids,
                   MAX(disk_bytes) AS disk, CAST(SUM(\(unsafeRaw: growth("net_rx_bytes"))) AS BIGINT) AS rx,
                   CAST(SUM(\(unsafeRaw: growth("net_tx_bytes"))) AS BIGINT) AS tx, MAX(charged_micros) AS charged
            FROM (
                SELECT sampled_at, cpu_micros, memory_bytes, pids, disk_bytes, net_rx_bytes, net_tx_bytes, charged_micros,
                       LAG(cpu_micros) OVER (ORDER BY sampled_at) AS prev_cpu_micros,
                       LAG(net_rx_bytes) OVER (ORDER BY sampled_at) AS prev_net_rx_bytes,
                       LAG(net_tx_bytes) OVER (ORDER BY sampled_at) AS prev_net_tx_bytes
                FROM usage_samples
                WHERE server_id = \(bind: serverID) AND sampled_at < \(bind: until.millis) AND sampled_at >= COALESCE(
                    (SELECT MAX(sampled_at) FROM usage_samples
                     WHERE server_id = \(bind: serverID) AND sampled_at < \(bind: since.millis)), \(bind: since.millis))
            ) AS grown
            WHERE sampled_at >= \(bind: since.millis)
            GROUP BY bucket ORDER BY bucket
            """).all()
        return try rows.map { row in
            UsagePoint(at: Date(millis: since.millis + (try row.int64("bucket")) * stepMillis),
                       cpuMicros: try row.int64("cpu"), memoryBytes: try row.int64("memory"), pids: try row.int64("pids"),
                       diskBytes: try row.int64("disk"), networkReceivedBytes: try row.int64("rx"),
                       networkSentBytes: try row.int64("tx"), charged: MicroDollars(try row.int64("charged")))
        }
    }

    func retireUsageSamples(before: Date, logLines: [String: Int64]) async throws -> Int {
        // Per server and UTC day first (CPU as the counter's growth that day), then per day.
        let rows = try await db.raw("""
            SELECT sampled_at / 86400000 AS day, server_id, COUNT(*) AS samples,
                   MAX(cpu_micros) - MIN(cpu_micros) AS cpu, MAX(memory_bytes) AS memory
            FROM usage_samples WHERE sampled_at < \(bind: before.millis) GROUP BY day, server_id
            """).all()
        var days: [String: DailyUsage] = [:]
        for row in rows {
            let day = DailyUsage.dayName(Date(millis: try row.int64("day") * 86_400_000))
            var total = days[day] ?? DailyUsage(day: day, servers: 0, samples: 0, cpuMicros: 0, maxMemoryBytes: 0, logLines: 0)
            total.servers += 1
            total.samples += try row.int64("samples")
            total.cpuMicros += try row.int64("cpu")
            total.maxMemoryBytes = max(total.maxMemoryBytes, try row.int64("memory"))
            days[day] = total
        }
        for (day, lines) in logLines {
            days[day, default: DailyUsage(day: day, servers: 0, samples: 0, cpuMicros: 0, maxMemoryBytes: 0, logLines: 0)]
                .logLines += lines
        }
        for total in days.values {
            try await db.raw("""
                INSERT INTO usage_daily (day, servers, samples, cpu_micros, max_memory_bytes, log_lines)
                VALUES (\(bind: total.day), \(bind: total.servers), \(bind: total.samples), \(bind: total.cpuMicros),
                        \(bind: total.maxMemoryBytes), \(bind: total.logLines))
                ON CONFLICT (day) DO UPDATE SET servers = usage_daily.servers + excluded.servers,
                    samples = usage_daily.samples + excluded.samples, cpu_micros = usage_daily.cpu_micros + excluded.cpu_micros,
                    max_memory_bytes = CASE WHEN usage_daily.max_memory_bytes > excluded.max_memory_bytes
                                            THEN usage_daily.max_memory_bytes ELSE excluded.max_memory_bytes END,
                    log_lines = usage_daily.log_lines + excluded.log_lines
                """).run()
        }
        let retired = rows.reduce(0) { $0 + Int((try? $1.int64("samples")) ?? 0) }
        try await db.raw("DELETE FROM usage_samples WHERE sampled_at < \(bind: before.millis)").run()
        return retired
    }

    func dailyUsage() async throws -> [DailyUsage] {
        try await db.raw("SELECT * FROM usage_daily ORDER BY day").all().map { row in
            DailyUsage(day: try row.string("day"), servers: try row.int64("servers"), samples: try row.int64("samples"),
                       cpuMicros: try row.int64("cpu_micros"), maxMemoryBytes: try row.int64("max_memory_bytes"),
                       logLines: try row.int64("log_lines"))
        }
    }
}
