import Foundation
import Logging
import S4ADomain
import ServiceLifecycle

/// Meters every running server once a second (settling and renewing leases, ending spent ones,
/// noticing dead ones) until a graceful shutdown. Should it stop or fall behind, nothing stops:
/// each server's keeper holds a deadline as far as its budget reaches.
struct BudgetEnforcer: Service {
    let servers: ServerService
    let logger: Logger
    /// A second, or a quarter of a lease if that is shorter.
    let tick: Duration
    /// How often each lease should be settled: a round slower than this is worth a warning.
    var settleMilliseconds: Int64 = 5000

    func run() async throws {
        let clock = ContinuousClock()
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let started = clock.now
            do {
                let round = try await servers.enforceBudgets(roundMilliseconds: Self.milliseconds(tick))
                report(round, took: clock.now - started)
            } catch {
                logger.error("metering round failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
        }
    }

    /// Late settlements and slow rounds are warnings: spend shown lags behind, though no server
    /// stops for it (its keeper's deadline is where its budget ends).
    func report(_ round: ServerService.MeteringRound, took: Duration) {
        if let worst = round.late.max(by: { $0.by < $1.by }) {
            logger.warning("lease settlements are late", metadata: [
                "servers": "\(round.late.count)", "server": "\(worst.serverID)",
                "lag_ms": "\(Self.milliseconds(worst.by))"])
        }
        if Self.milliseconds(took) > settleMilliseconds {
            logger.warning("a metering round was slow", metadata: [
                "took_ms": "\(Self.milliseconds(took))", "renewed": "\(round.renewed)"])
        }
        if round.died > 0 { logger.info("servers whose containers died were marked failed", metadata: ["count": "\(round.died)"]) }
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
