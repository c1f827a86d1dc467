import Foundation

/// Runs one `DrainWorker` per drain this control plane holds a claim on: every
/// `refreshInterval` it renews its claims (taking unclaimed or lapsed ones), starts a worker for
/// each new one and cancels the worker of each deleted (or lost) one. Workers share nothing but
/// the store, so a stuck endpoint slows only its own drain.
public struct LogDrainDelivery: Sendable {
    let drains: LogDrainService
    let logs: any ServerLogReader
    let transport: any DrainTransport
    let settings: DrainSettings

    public init(drains: LogDrainService, logs: any ServerLogReader, transport: any DrainTransport,
                settings: DrainSettings = DrainSettings()) {
        self.drains = drains
        self.logs = logs
        self.transport = transport
        self.settings = settings
    }

    /// Until cancelled; `onError` hears what failed (the store unreachable, a secret unopenable).
    public func run(onError: @escaping @Sendable (String) -> Void = { _ in }) async {
        var workers: [String: Task<Void, Never>] = [:]
        var unopenable: Set<String> = []  // said once, tried again each round
        let store = drains.env.store, owner = RandomToken.bearer(prefix: "dlv_"), lifetime = settings.claimLifetime
        let now = drains.env.now
        while !Task.isCancelled {
            do {
                let current = try await store.write { tx in
                    let at = now()
                    return try await tx.logDrains.claimLogDrains(owner: owner, until: at.addingTimeInterval(lifetime), now: at)
                }
                let ids = Set(current.map(\.id))
                for (id, task) in workers where !ids.contains(id) {
                    task.cancel()
                    workers[id] = nil
                }
                for drain in current where workers[drain.id] == nil {
                    let secret: String
                    do {
                        secret = try await drains.secret(of: drain)
                    } catch {
                        if unopenable.insert(drain.id).inserted {
                            onError("log drain \(drain.id): its secret cannot be opened: \(error)")
                        }
                        continue
                    }
                    let worker = DrainWorker(drain: drain, secret: secret, store: store, logs: logs, transport: transport,
                                             settings: settings, now: drains.env.now)
                    workers[drain.id] = Task {
                        var running = worker
                        await running.run()
                    }
                }
            } catch {
                onError("log drains: \(error)")
            }
            try? await Task.sleep(for: settings.refreshInterval)
        }
        // Stopping: every worker ends (an in-flight request is cancelled) before the store closes.
        workers.values.forEach { $0.cancel() }
        for task in workers.values { await task.value }
        try? await store.write { tx in try await tx.logDrains.releaseLogDrains(owner: owner) }
    }
}
