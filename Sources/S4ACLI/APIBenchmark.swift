import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import S4ADomain
import S4AServer
import ServiceLifecycle

/// `s4a bench api`: a real control plane over TLS on loopback, measured from the same process.
struct APIBenchmark {
    var requestsPerLevel: Int
    var levels: [Int]
    var verifications: Int

    struct Level: Codable {
        var endpoint: String
        var concurrency: Int
        var requests: Int
        var requestsPerSecond: Double
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var errors: Int
    }

    struct Report: Codable {
        var levels: [Level]
        /// projects throughput ÷ healthz throughput, per concurrency.
        var throughputRatioToHealthz: [String: Double]
        var keyVerificationMedianMicroseconds: Double
        var sha256MedianMicroseconds: Double
        var keyVerificationRatioToSHA256: Double
        var store: String

        func print() {
            Swift.print("s4a bench api  (store: \(store); TLS 1.3, keep-alive, loopback)")
            Swift.print("endpoint          conc  requests   req/s      p50 ms   p99 ms   errors")
            for level in levels {
                Swift.print(level.endpoint.padding(toLength: 17, withPad: " ", startingAt: 0)
                    + String(format: "%4d %9d %9.0f %9.2f %8.2f %8d", level.concurrency, level.requests,
                             level.requestsPerSecond, level.p50Milliseconds, level.p99Milliseconds, level.errors))
            }
            for (concurrency, ratio) in throughputRatioToHealthz.sorted(by: { Int($0.key)! < Int($1.key)! }) {
                Swift.print(String(format: "GET /v1/projects ÷ GET /healthz throughput at %@: %.2f", concurrency, ratio))
            }
            Swift.print(String(format: "API-key verification (hash + store lookup), median: %.1f µs; bare SHA-256 baseline: %.2f µs; ratio %.0f×",
                               keyVerificationMedianMicroseconds, sha256MedianMicroseconds, keyVerificationRatioToSHA256))
        }
    }

    func run() async throws -> Report {
        try await BenchPlane.run { plane, port in try await measure(plane: plane, port: port) }
    }

    func measure(plane: ControlPlane, port: Int) async throws -> Report {
        let env = plane.environment
        // Fixture: one account, a key that may read projects, and 20 projects to list.
        let (_, session) = try await BenchPlane.signedIn(env)
        let (_, token) = try await APIKeyService(env: env).create(session, NewAPIKey(name: "bench", scopes: [.projectsRead]))
        for index in 0..<20 { _ = try await ProjectService(env: env).create(session, name: "Bench \(index)", slug: nil) }

        let client = BenchPlane.client(plane, connections: levels.max() ?? 1)
        var results: [Level] = []
        do {
            for concurrency in levels {
                for (endpoint, path, auth) in [("GET /healthz", "/healthz", false), ("GET /v1/projects", "/v1/projects", true)] {
                    var request = HTTPClientRequest(url: "https://localhost:\(port)\(path)")
                    if auth { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                    // Warm the pool to this concurrency before timing.
                    _ = try await load(client, request, concurrency: concurrency, total: concurrency * 4)
                    let (latencies, errors, seconds) = try await load(client, request, concurrency: concurrency, total: requestsPerLevel)
                    results.append(Level(endpoint: endpoint, concurrency: concurrency, requests: requestsPerLevel,
                                         requestsPerSecond: Double(requestsPerLevel) / seconds,
                                         p50Milliseconds: percentile(latencies, 0.50) * 1000,
                                         p99Milliseconds: percentile(latencies, 0.99) * 1000, errors: errors))
                }
            }
            try await client.shutdown()
        } catch {
            try? await client.shutdown()
            throw error
        }

        var ratios: [String: Double] = [:]
        for concurrency in levels {
            let health = results.first { $0.endpoint == "GET /healthz" && $0.concurrency == concurrency }
            let projects = results.first { $0.endpoint == "GET /v1/projects" && $0.concurrency == concurrency }
            if let health, let projects { ratios[String(concurrency)] = projects.requestsPerSecond / health.requestsPerSecond }
        }

        let authenticator = Authenticator(env: env)
        var verify: [Double] = []
        var hash: [Double] = []
        for _ in 0..<verifications {
            let start = ContinuousClock.now
            guard try await authenticator.principal(token: token) != nil else { throw CommandFailure(message: "key did not verify") }
            verify.append((ContinuousClock.now - start).seconds)
            let hashStart = ContinuousClock.now
            _ = RandomToken.hash(token)
            hash.append((ContinuousClock.now - hashStart).seconds)
        }
        let verifyMedian = percentile(verify, 0.5) * 1e6
        let hashMedian = percentile(hash, 0.5) * 1e6
        return Report(levels: results, throughputRatioToHealthz: ratios, keyVerificationMedianMicroseconds: verifyMedian,
                      sha256MedianMicroseconds: hashMedian, keyVerificationRatioToSHA256: verifyMedian / max(hashMedian, 0.001),
                      store: plane.store.engineName)
    }

    /// `total` requests from `concurrency` workers; per-request latencies, error count, wall seconds.
    func load(_ client: HTTPClient, _ request: HTTPClientRequest, concurrency: Int, total: Int) async throws -> ([Double], Int, Double) {
        let start = ContinuousClock.now
        let perWorker = (0..<concurrency).map { total / concurrency + ($0 < total % concurrency ? 1 : 0) }
        let outcomes = try await withThrowingTaskGroup(of: ([Double], Int).self) { group in
            for count in perWorker {
                group.addTask {
                    var latencies: [Double] = []
                    var errors = 0
                    for _ in 0..<count {
                        let began = ContinuousClock.now
                        do {
                            let response = try await client.execute(request, timeout: .seconds(30))
                            _ = try await response.body.collect(upTo: 1 << 20)
                            if response.status != .ok { errors += 1 }
                        } catch {
                            errors += 1
                        }
                        latencies.append((ContinuousClock.now - began).seconds)
                    }
                    return (latencies, errors)
                }
            }
            var all: [([Double], Int)] = []
            for try await outcome in group { all.append(outcome) }
            return all
        }
        let seconds = (ContinuousClock.now - start).seconds
        return (outcomes.flatMap(\.0), outcomes.map(\.1).reduce(0, +), seconds)
    }

    func percentile(_ values: [Double], _ p: Double) -> Double { BenchPlane.percentile(values, p) }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// A control plane on a temporary data directory and a loopback port, for benchmarks.
enum BenchPlane {
    static func run<T: Sendable>(_ body: @escaping @Sendable (ControlPlane, Int) async throws -> T) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = ServeOptions()
        options.dataDirectory = directory.path
        options.listenPort = 0
        options.bcryptCost = 4
        var logger = Logger(label: "s4a-bench")
        logger.logLevel = .error
        let plane = try await ControlPlane(options: options, logger: logger)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try plane.application { continuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        do {
            let result = try await withThrowingTaskGroup(of: T?.self) { tasks in
                tasks.addTask {
                    try await group.run()
                    return nil
                }
                var iterator = ports.makeAsyncIterator()
                guard let port = await iterator.next() else { throw CancellationError() }
                do {
                    let result = try await body(plane, port)
                    await group.triggerGracefulShutdown()
                    for try await _ in tasks {}
                    return result
                } catch {
                    await group.triggerGracefulShutdown()
                    throw error
                }
            }
            _ = try? await plane.runtime.removeOrphans(keeping: [])
            await plane.shutdown()
            return result
        } catch {
            _ = try? await plane.runtime.removeOrphans(keeping: [])
            await plane.shutdown()
            throw error
        }
    }

    /// The benchmarks' account, signed in: its session token and principal.
    static func signedIn(_ env: DomainEnvironment) async throws -> (token: String, principal: Principal) {
        let accounts = await AccountService(env: env)
        try await accounts.signUp(email: "bench@example.com", password: "benchmark password")
        let signIn = try await accounts.signIn(email: "bench@example.com", password: "benchmark password", clientAddress: nil)
        return (signIn.token, Principal(accountID: signIn.session.accountID, credential: .session(signIn.session)))
    }

    /// An HTTPS client trusting the plane's CA, sized for `connections`.
    static func client(_ plane: ControlPlane, connections: Int) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(plane.caCertificatePath!)
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .http1Only
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(connections, 1))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }
}
