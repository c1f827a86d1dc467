import Foundation
import S4AContract
import S4ADomain

extension APIHandler {
    func getServerUsage(_ input: Operations.GetServerUsage.Input) async throws -> Operations.GetServerUsage.Output {
        let usage = try await usage.server(try RequestScope.requirePrincipal(), id: input.path.serverId, since: input.query.since,
                                           until: input.query.until, step: input.query.step.map(TimeInterval.init))
        return .ok(.init(body: .json(.init(
            serverId: usage.server.id, state: usage.server.state.rawValue,
            spend: Self.spend(usage.server, usage.balance, usage.ratePerHour), stepSeconds: Int(usage.step),
            samples: usage.points.map { point in
                .init(at: point.at, cpuSeconds: Double(point.cpuMicros) / 1_000_000, memoryBytes: point.memoryBytes,
                      pids: Int(point.pids), diskBytes: point.diskBytes, netRxBytes: point.networkReceivedBytes,
                      netTxBytes: point.networkSentBytes, chargedUsd: point.charged.decimal)
            }))))
    }

    func getAccountUsage(_ input: Operations.GetAccountUsage.Input) async throws -> Operations.GetAccountUsage.Output {
        let usage = try await usage.account(try RequestScope.requirePrincipal())
        let rate = usage.servers.reduce(Int64(0)) { $0 + $1.ratePerHour.value }
        return .ok(.init(body: .json(.init(
            spendingLimitUsd: usage.spendingLimit?.decimal, chargedUsd: usage.total.charged.decimal,
            reservedUsd: usage.total.reserved.decimal, rateUsdPerHour: MicroDollars(rate).decimal,
            servers: usage.servers.map { line in
                .init(serverId: line.server.id, name: line.server.name, projectId: line.server.projectID,
                      state: line.server.state.rawValue, spend: Self.spend(line.server, line.balance, line.ratePerHour))
            }))))
    }

    static func spend(_ server: Server, _ balance: LedgerBalance, _ rate: MicroDollars) -> Components.Schemas.Spend {
        .init(budgetUsd: server.budget.decimal, chargedUsd: balance.charged.decimal, reservedUsd: balance.reserved.decimal,
              remainingUsd: balance.available(under: server.budget).decimal, rateUsdPerHour: rate.decimal)
    }
}
