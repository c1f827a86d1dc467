import Foundation
import Logging
import S4ADomain
import ServiceLifecycle

/// Meters every running server once a second (renewing leases, ending spent ones) until a
/// graceful shutdown. Should it stop, the watchdogs still stop each server at its deadline.
struct BudgetEnforcer: Service {
    let servers: ServerService
    let logger: Logger
    /// A second, or a quarter of a lease if that is shorter: several rounds fit in each lease,
    /// so one renewal is never late for the deadline.
    let tick: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await servers.enforceBudgets()
            } catch {
                logger.error("metering round failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
        }
    }
}
