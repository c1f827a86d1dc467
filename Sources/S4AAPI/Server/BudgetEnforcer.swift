import Foundation
import Logging
import S4ADomain
import ServiceLifecycle

/// Meters every running server once a second (renewing leases, ending spent ones) until a
/// graceful shutdown. Should it stop, the watchdogs still stop each server at its deadline.
struct BudgetEnforcer: Service {
    let servers: ServerService
    let logger: Logger
    static let tick: Duration = .seconds(1)

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await servers.enforceBudgets()
            } catch {
                logger.error("metering round failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.tick) }
        }
    }
}

extension ControlPlane {
    /// The background services to run beside the HTTP application.
    public func backgroundServices() -> [any Service] {
        [BudgetEnforcer(servers: handler.servers, logger: logger)]
    }
}
