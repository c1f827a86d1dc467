import Foundation

/// A server's spend and its usage over time, for `GET /v1/servers/{id}/usage`.
public struct ServerUsage: Sendable {
    public var server: Server
    public var balance: LedgerBalance
    /// What an hour costs while it runs (nothing while stopped).
    public var ratePerHour: MicroDollars
    public var step: TimeInterval
    public var points: [UsagePoint]
}

/// Every server's spend in reach of the principal, for `GET /v1/usage`.
public struct AccountUsage: Sendable {
    public struct Line: Sendable {
        public var server: Server
        public var balance: LedgerBalance
        public var ratePerHour: MicroDollars
    }
    public var spendingLimit: MicroDollars?
    public var servers: [Line]
    /// Over every server of the account, deleted ones included (for an unrestricted principal;
    /// else over the servers in reach).
    public var total: LedgerBalance
}

/// What one sampling round saw, for the platform's own metrics.
public struct SamplingRound: Sendable {
    public var servers = 0
    public var memoryBytes: Int64 = 0
    /// CPU the sampled servers used since the previous round (as far as this process saw).
    public var cpuMicros: Int64 = 0
}

/// Usage metrics: a sampler reads every running server's cgroup, disk and network counters
/// every few seconds into the store; charts reduce them per step; a janitor retires samples
/// and log lines past the retention period into anonymous daily aggregates.
public struct UsageService: Sendable {
    let env: DomainEnvironment
    let runtime: any ContainerRuntime
    let card: RateCard
    /// The longest range one chart may cover, and how many points it may have.
    public static let maxRange: TimeInterval = 31 * 86_400
    public static let maxPoints = 1_440

    public init(env: DomainEnvironment, runtime: any ContainerRuntime, card: RateCard) {
        self.env = env
        self.runtime = runtime
        self.card = card
    }

    /// Samples every running server once; `previous` holds each server's last CPU counter (kept
    /// by the caller between rounds) to count what was used in between.
    public func sample(previous: inout [String: Int64]) async throws -> SamplingRound {
        let running = try await env.store.read { tx in try await tx.servers.liveServers() }.filter { $0.state == .running }
        let now = env.now()
        var samples: [UsageSample] = []
        var round = SamplingRound()
        for server in running {
            guard let stats = try? await runtime.stats(server.id) else { continue }
            let charged = try await env.store.read { tx in try await tx.ledger.ledgerBalance(serverID: server.id) }.charged
            let cpu = Int64(stats.cpuNanoseconds / 1000)
            samples.append(UsageSample(serverID: server.id, accountID: server.accountID, at: now, cpuMicros: cpu,
                                       memoryBytes: Int64(stats.memoryBytes), pids: Int64(stats.pids),
                                       diskBytes: Int64(stats.diskBytes), networkReceivedBytes: Int64(stats.networkReceivedBytes),
                                       networkSentBytes: Int64(stats.networkSentBytes), charged: charged))
            round.servers += 1
            round.memoryBytes += Int64(stats.memoryBytes)
            if let before = previous[server.id] { round.cpuMicros += cpu >= before ? cpu - before : cpu }
            previous[server.id] = cpu
        }
        let ids = Set(running.map(\.id))
        previous = previous.filter { ids.contains($0.key) }
        let batch = samples
        if !batch.isEmpty { try await env.store.write { tx in try await tx.usage.insert(batch) } }
        return round
    }

    public func server(_ principal: Principal, id: String, since: Date?, until: Date?, step: TimeInterval?) async throws -> ServerUsage {
        try principal.check(.scope(.serversRead))
        let until = until ?? env.now()
        let since = since ?? until.addingTimeInterval(-3600)
        guard since < until else { throw DomainError.invalid("since", "must be before until") }
        let range = until.timeIntervalSince(since)
        guard range <= Self.maxRange else { throw DomainError.invalid("since", "the range may cover at most 31 days") }
        let step = step ?? max(5, (range / 120).rounded(.up))
        guard step >= 1 else { throw DomainError.invalid("step", "must be at least 1 second") }
        guard range / step <= Double(Self.maxPoints) else {
            throw DomainError.invalid("step", "gives more than \(Self.maxPoints) points; take a longer step")
        }
        return try await env.store.read { tx in
            let server = try await tx.reachableServer(id, by: principal)
            let balance = try await tx.ledger.ledgerBalance(serverID: id)
            let points = try await tx.usage.usagePoints(serverID: id, since: since, until: until, step: step)
            return ServerUsage(server: server, balance: balance, ratePerHour: rate(server), step: step,
                               points: points)
        }
    }

    /// `projectID`: that project's servers only (the total is then theirs).
    public func account(_ principal: Principal, projectID: String? = nil) async throws -> AccountUsage {
        try principal.check(.scope(.serversRead))
        let projects = try principal.projects(narrowedTo: projectID)
        return try await env.store.read { tx in
            var lines: [AccountUsage.Line] = []
            var cursor: String?
            repeat {
                let page = try await tx.servers.servers(accountID: principal.accountID, projectIDs: projects,
                                                cursor: cursor, limit: 200)
                for server in page.items {
                    lines.append(.init(server: server, balance: try await tx.ledger.ledgerBalance(serverID: server.id),
                                       ratePerHour: rate(server)))
                }
                cursor = page.nextCursor
            } while cursor != nil
            var total = LedgerBalance(charged: MicroDollars(0), reserved: MicroDollars(0))
            if projects == nil {
                total = try await tx.ledger.ledgerBalance(accountID: principal.accountID)
            } else {
                for line in lines {
                    total.charged.value += line.balance.charged.value
                    total.reserved.value += line.balance.reserved.value
                }
            }
            return AccountUsage(spendingLimit: try await tx.accounts.account(id: principal.accountID)?.spendingLimit,
                                servers: lines, total: total)
        }
    }

    /// Retires samples and log lines from before the UTC day that began `days` before now,
    /// so that each day is folded into its aggregate whole, once.
    public func retire(keepingDays days: Int) async throws -> (samples: Int, logLines: Int64) {
        let cutoff = DailyUsage.utc.startOfDay(for: env.now().addingTimeInterval(-Double(days) * 86_400))
        let lines = try await runtime.pruneLogs(before: cutoff)
        let samples = try await env.store.write { tx in
            try await tx.health.deleteProbes(before: cutoff)
            return try await tx.usage.retireUsageSamples(before: cutoff, logLines: lines)
        }
        return (samples, lines.values.reduce(0, +))
    }

    func rate(_ server: Server) -> MicroDollars {
        server.state == .running ? card.perHour(cpuMillis: server.cpuMillis, memoryMB: server.memoryMB) : MicroDollars(0)
    }
}
