import ArgumentParser
import Foundation

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks of this build, measured against baselines in the same run.",
        subcommands: [API.self, Servers.self])

    struct Servers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "servers",
            abstract: "Time to first command against raw runc, and memory per idle server (needs root and runc).")

        @Option(help: "Create-and-exec samples.") var count = 50
        @Option(help: "Idle servers to hold at once for the density figure (0 to skip).") var density = 200
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let report = try await ServerBenchmark(count: count, density: density).run()
            if json { return try Output.json(report) }
            report.print()
        }
    }

    struct API: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "api",
            abstract: "Authenticated GET /v1/projects throughput and latency at 1, 16 and 64 connections, and API-key verification cost.",
            discussion: """
            Starts a control plane on a temporary data directory and a loopback port, then drives it
            with keep-alive HTTPS connections. Baselines in the same run: GET /healthz (same stack,
            no authentication or store) and a bare SHA-256 of a token (the verification's hashing alone).
            """)

        @Option(help: "Requests per concurrency level and endpoint.") var requests = 3000
        @Option(name: .customLong("concurrency"), help: "Concurrency levels (repeatable).") var levels: [Int] = [1, 16, 64]
        @Option(help: "Key verifications to time.") var verifications = 5000
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let report = try await APIBenchmark(requestsPerLevel: requests, levels: levels, verifications: verifications).run()
            if json { return try Output.json(report) }
            report.print()
        }
    }
}
