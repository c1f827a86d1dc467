import Foundation
import Logging
import Metrics
import S4ADomain
import ServiceLifecycle

/// What the usage sampler carries between rounds: counters last read per server, and CPU
/// microseconds not yet counted as a whole second.
struct UsageSamplerState: Sendable {
    var previous: [String: Int64] = [:]
    var carried: Int64 = 0
}

extension ControlPlane {
    /// The background services to run beside the HTTP application.
    public func backgroundServices() -> [any Service] {
        var drainSettings = DrainSettings()
        drainSettings.bufferCapacity = options.drainBufferRecords
        let quarter = Duration.milliseconds(max(100, options.budgetSettings.leaseMilliseconds / 4))
        let (usage, health, deletion, anchor, logger) = (services.usage, services.health, services.deletion, self.anchor, self.logger)
        var services: [any Service] = [
            BudgetEnforcer(servers: services.servers, logger: logger, tick: min(.seconds(1), quarter),
                           settleMilliseconds: options.budgetSettings.settleMilliseconds),
            Self.usageSampler(usage, logger: logger, interval: .milliseconds(Int64(options.usageIntervalSeconds * 1000))),
            // Once an hour (and at start): log lines and usage samples past the retention period
            // become anonymous daily aggregates.
            PeriodicService("retention round", every: .seconds(3600), logger: logger) { [days = options.retentionDays] in
                let (samples, lines) = try await usage.retire(keepingDays: days)
                if samples > 0 || lines > 0 {
                    logger.info("retention: retired old usage samples and log lines",
                                metadata: ["samples": "\(samples)", "log_lines": "\(lines)"])
                }
            },
            // Every deployed app probed every few seconds (see HealthService).
            PeriodicService("health round", every: .milliseconds(Int64(options.probeIntervalSeconds * 1000)), logger: logger,
                            state: HealthMemory()) { memory in
                try await health.probeAll(&memory)
            },
            // Account deletions that could not finish when asked (a runtime failure while
            // destroying a server), retried every minute; the start already tried once.
            PeriodicService("account deletion round", every: .seconds(60), logger: logger, delayFirst: true) {
                try await Self.finishDeletions(deletion, logger: logger)
            },
            Self.auditCheckpointer(anchor, logger: logger)]
        services.append(LogDrainSender(
            delivery: LogDrainDelivery(drains: self.services.drains, logs: runtime, transport: drainTransport, settings: drainSettings),
            transport: drainTransport, logger: logger))
        if let acme = acmeService() { services.append(acme) }
        return services
    }

    /// Every running server's usage sampled into the store every few seconds, and the
    /// platform's own totals kept in /metrics.
    static func usageSampler(_ usage: UsageService, logger: Logger, interval: Duration) -> some Service {
        let running = Gauge(label: "s4a_servers_running")
        let memory = Gauge(label: "s4a_servers_memory_bytes")
        let cpu = Counter(label: "s4a_servers_cpu_seconds_total")
        let rounds = Counter(label: "s4a_usage_samples_total")
        return PeriodicService("usage sampling", every: interval, logger: logger, state: UsageSamplerState()) { state in
            let round = try await usage.sample(previous: &state.previous)
            running.record(round.servers)
            memory.record(round.memoryBytes)
            // The counter takes whole seconds; the rest waits for the next round.
            state.carried += round.cpuMicros
            cpu.increment(by: state.carried / 1_000_000)
            state.carried %= 1_000_000
            rounds.increment(by: round.servers)
        }
    }

    /// Every minute, and once more at shutdown, a signed checkpoint of each activity chain that
    /// moved (see `AuditAnchor`); a chain that no longer checks out is logged as an error (once
    /// per finding) and not anchored.
    static func auditCheckpointer(_ anchor: AuditAnchor, logger: Logger) -> some Service {
        PeriodicService("audit checkpoint round", every: .seconds(60), logger: logger, finalRound: true,
                        state: Set<String>()) { reported in
            let result = try await anchor.checkpoint()
            for finding in result.findings where reported.insert(finding.description).inserted {
                logger.error("activity chain does not check out; not anchored", metadata: [
                    "check": "\(finding.check.rawValue)", "account": "\(finding.accountID)",
                    "seq": "\(finding.seq)", "detail": "\(finding.detail)"])
            }
        }
    }
}
