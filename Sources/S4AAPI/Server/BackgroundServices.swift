import Foundation
import Logging
import Metrics
import S4ADomain
import ServiceLifecycle

/// Samples every running server's usage every few seconds into the store, and keeps the
/// platform's own totals in /metrics.
struct UsageSampler: Service {
    let usage: UsageService
    let logger: Logger
    let interval: Duration

    func run() async throws {
        let running = Gauge(label: "s4a_servers_running")
        let memory = Gauge(label: "s4a_servers_memory_bytes")
        let cpu = Counter(label: "s4a_servers_cpu_seconds_total")
        let rounds = Counter(label: "s4a_usage_samples_total")
        var previous: [String: Int64] = [:]
        var carried: Int64 = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let round = try await usage.sample(previous: &previous)
                running.record(round.servers)
                memory.record(round.memoryBytes)
                // The counter takes whole seconds; the rest waits for the next round.
                carried += round.cpuMicros
                cpu.increment(by: carried / 1_000_000)
                carried %= 1_000_000
                rounds.increment(by: round.servers)
            } catch {
                logger.error("usage sampling failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// Once an hour (and at start), retires log lines and usage samples past the retention
/// period into anonymous daily aggregates.
struct RetentionJanitor: Service {
    let usage: UsageService
    let logger: Logger
    let days: Int

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let (samples, lines) = try await usage.retire(keepingDays: days)
                if samples > 0 || lines > 0 {
                    logger.info("retention: retired old usage samples and log lines",
                                metadata: ["samples": "\(samples)", "log_lines": "\(lines)"])
                }
            } catch {
                logger.error("retention round failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}

/// Probes every deployed app every few seconds (see `HealthService`).
struct HealthMonitor: Service {
    let health: HealthService
    let logger: Logger
    let interval: Duration

    func run() async throws {
        var memory = HealthMemory()
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await health.probeAll(&memory)
            } catch {
                logger.error("health round failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// Every minute, finishes account deletions that could not finish when asked (a runtime
/// failure while destroying a server); the account is unusable meanwhile.
struct DeletionFinisher: Service {
    let plane: ControlPlane

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
            do {
                try await plane.finishDeletions()
            } catch {
                plane.logger.error("account deletion round failed", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Every minute, and once more at shutdown, appends a signed checkpoint of each activity chain
/// that moved to the checkpoint file (see `AuditAnchor`); a chain that no longer checks out is
/// logged as an error (once per finding) and not anchored.
struct AuditCheckpointer: Service {
    let anchor: AuditAnchor
    let logger: Logger
    let interval: Duration

    func run() async throws {
        var reported: Set<String> = []
        func round() async {
            do {
                let result = try await anchor.checkpoint()
                for finding in result.findings where reported.insert(finding.description).inserted {
                    logger.error("activity chain does not check out; not anchored", metadata: [
                        "check": "\(finding.check.rawValue)", "account": "\(finding.accountID)",
                        "seq": "\(finding.seq)", "detail": "\(finding.detail)"])
                }
            } catch {
                logger.error("audit checkpoint round failed", metadata: ["error": "\(error)"])
            }
        }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await round()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        // What changed since the last round, anchored before the process ends.
        await round()
    }
}

extension ControlPlane {
    /// The background services to run beside the HTTP application.
    public func backgroundServices() -> [any Service] {
        var drainSettings = DrainSettings()
        drainSettings.bufferCapacity = options.drainBufferRecords
        let quarter = Duration.milliseconds(max(100, options.budgetSettings.leaseMilliseconds / 4))
        var services: [any Service] = [
            BudgetEnforcer(servers: handler.servers, logger: logger, tick: min(.seconds(1), quarter),
                           settleMilliseconds: options.budgetSettings.settleMilliseconds),
            UsageSampler(usage: handler.usage, logger: logger, interval: .milliseconds(Int64(options.usageIntervalSeconds * 1000))),
            RetentionJanitor(usage: handler.usage, logger: logger, days: options.retentionDays),
            HealthMonitor(health: handler.health, logger: logger, interval: .milliseconds(Int64(options.probeIntervalSeconds * 1000))),
            DeletionFinisher(plane: self),
            AuditCheckpointer(anchor: anchor, logger: logger, interval: .seconds(60))]
        services.append(LogDrainSender(
            delivery: LogDrainDelivery(drains: handler.drains, logs: runtime, transport: drainTransport, settings: drainSettings),
            transport: drainTransport, logger: logger))
        if let acme = acmeService() { services.append(acme) }
        return services
    }
}
