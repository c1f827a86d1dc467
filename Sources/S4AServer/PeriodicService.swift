import Logging
import ServiceLifecycle

/// One loop for the control plane's periodic work: a round every `interval` until graceful
/// shutdown, each round's failure logged and the next one coming all the same. `State` is what
/// a job carries from one round to the next.
struct PeriodicService<State: Sendable>: Service {
    /// Names the job in the log ("usage sampling failed").
    let name: String
    let interval: Duration
    let logger: Logger
    /// Waits one interval before the first round (work the start already did).
    var delayFirst = false
    /// Runs one more round after shutdown is asked for (what changed meanwhile must be kept).
    var finalRound = false
    var state: State
    let round: @Sendable (inout State) async throws -> Void

    init(_ name: String, every interval: Duration, logger: Logger, delayFirst: Bool = false, finalRound: Bool = false,
         state: State, round: @escaping @Sendable (inout State) async throws -> Void) {
        self.name = name
        self.interval = interval
        self.logger = logger
        self.delayFirst = delayFirst
        self.finalRound = finalRound
        self.state = state
        self.round = round
    }

    func run() async throws {
        var state = self.state
        func once() async {
            do {
                try await round(&state)
            } catch {
                logger.error("\(name) failed", metadata: ["error": "\(error)"])
            }
        }
        if delayFirst { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            await once()
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
        if finalRound { await once() }
    }
}

extension PeriodicService where State == Void {
    init(_ name: String, every interval: Duration, logger: Logger, delayFirst: Bool = false, finalRound: Bool = false,
         round: @escaping @Sendable () async throws -> Void) {
        self.init(name, every: interval, logger: logger, delayFirst: delayFirst, finalRound: finalRound, state: ()) { _ in
            try await round()
        }
    }
}
