import ArgumentParser
import Foundation
import S4AClient
import S4AContract

/// `s4a usage [SERVER]`: spend against caps, and for one server small charts of its CPU,
/// memory and spend over time.
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage", abstract: "Show spend per server, or one server's spend, CPU and memory over time.",
        discussion: "Examples: s4a usage; s4a usage srv_… --since 6h. Charts draw one character per sample.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "A server's id; without it, every server of the account.") var server: String?
    @Option(help: "How far back, e.g. 30m, 6h, 7d (default 1h).") var since: String = "1h"
    @Option(help: "Seconds per sample (default: the range over 60).") var step: Int?

    func run() async throws {
        let json = client.json
        guard let server else {
            try await withConnection(client) { connection in
                switch try await connection.client.getAccountUsage() {
                case .ok(let ok):
                    let usage = try ok.body.json
                    if json { return try Output.json(usage) }
                    Output.table(["ID", "NAME", "STATE", "SPENT", "", "CAP", "$/HOUR"], usage.servers.map { line in
                        [line.serverId, line.name, line.state, "$" + line.spend.chargedUsd,
                         Chart.bar(Double(line.spend.chargedUsd) ?? 0, of: Double(line.spend.budgetUsd) ?? 0),
                         "$" + line.spend.budgetUsd, "$" + line.spend.rateUsdPerHour]
                    })
                    var total = "Total spent $\(usage.chargedUsd) (+ $\(usage.reservedUsd) reserved), now $\(usage.rateUsdPerHour)/hour"
                    if let limit = usage.spendingLimitUsd { total += "; account limit $\(limit)" }
                    print(total)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            return
        }
        guard let range = Self.seconds(since) else { throw ValidationError("--since takes a duration such as 30m, 6h or 7d") }
        let until = Date()
        let query = Operations.GetServerUsage.Input.Query(since: until.addingTimeInterval(-range), until: until,
                                                          step: step ?? max(5, Int((range / 60).rounded(.up))))
        try await withConnection(client) { connection in
            switch try await connection.client.getServerUsage(path: .init(serverId: try await References.serverID(server, connection)), query: query) {
            case .ok(let ok):
                let usage = try ok.body.json
                if json { return try Output.json(usage) }
                let spend = usage.spend
                print("\(usage.serverId) (\(usage.state)): spent $\(spend.chargedUsd) of $\(spend.budgetUsd) "
                      + "\(Chart.bar(Double(spend.chargedUsd) ?? 0, of: Double(spend.budgetUsd) ?? 0)), "
                      + "$\(spend.reservedUsd) reserved, $\(spend.remainingUsd) left; $\(spend.rateUsdPerHour)/hour while running")
                guard !usage.samples.isEmpty else { return print("No samples in the last \(since) (it was not running).") }
                let cpu = usage.samples.map(\.cpuSeconds)
                let memory = usage.samples.map { Double($0.memoryBytes) }
                let spent = usage.samples.map { Double($0.chargedUsd) ?? 0 }
                print("One character per \(usage.stepSeconds) s, oldest first:")
                print("CPU     \(Chart.sparkline(cpu))  peak \(String(format: "%.2f", (cpu.max() ?? 0) / Double(usage.stepSeconds))) cores")
                print("Memory  \(Chart.sparkline(memory))  peak \(Chart.bytes(memory.max() ?? 0))")
                print("Spend   \(Chart.sparkline(spent))  $\(usage.samples.first!.chargedUsd) → $\(usage.samples.last!.chargedUsd)")
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
    }

    /// `90s`, `30m`, `6h`, `7d` (or plain seconds).
    static func seconds(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let unit = text.last.flatMap({ units[$0] }), let value = Double(text.dropLast()), value > 0 { return value * unit }
        return Double(text).flatMap { $0 > 0 ? $0 : nil }
    }
}

/// Text charts for a terminal.
enum Chart {
    static let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// One character per value, scaled from the lowest to the highest.
    static func sparkline(_ values: [Double]) -> String {
        guard let low = values.min(), let high = values.max() else { return "" }
        let span = high - low
        return String(values.map { value in
            span <= 0 ? levels[value > 0 ? 3 : 0] : levels[min(levels.count - 1, Int((value - low) / span * Double(levels.count - 1) + 0.5))]
        })
    }

    /// `[#####.....]`: how much of `total` is used.
    static func bar(_ used: Double, of total: Double, width: Int = 10) -> String {
        let filled = total > 0 ? min(width, Int((used / total * Double(width)).rounded(.up))) : 0
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB"]
        var value = value, unit = 0
        while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
        return String(format: unit == 0 ? "%.0f %@" : "%.1f %@", value, units[unit])
    }
}
