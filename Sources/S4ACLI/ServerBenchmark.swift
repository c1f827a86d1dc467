import AsyncHTTPClient
import Foundation
import NIOCore
import S4ADomain
import S4ARuntime
import S4AServer

/// `s4a bench servers`: time to first command (create + first exec through the API) beside
/// a raw `runc run` of an equivalent bundle in the same run, and memory per idle server.
struct ServerBenchmark {
    var count: Int
    var density: Int

    struct Report: Codable {
        var firstCommandP50Milliseconds: Double
        var firstCommandP95Milliseconds: Double
        var firstCommandP99Milliseconds: Double
        var rawRuncP50Milliseconds: Double
        var rawRuncP95Milliseconds: Double
        var ratioP50: Double
        var densityServers: Int
        var controlPlaneRSSMiBBefore: Double
        var controlPlaneRSSMiBAfter: Double
        var hostMemoryMiBPerServer: Double
        var samples: Int

        func print() {
            Swift.print("s4a bench servers (runc \(samples) samples)")
            Swift.print(String(format: "time to first command (POST /v1/servers + first exec): p50 %.0f ms, p95 %.0f ms, p99 %.0f ms",
                               firstCommandP50Milliseconds, firstCommandP95Milliseconds, firstCommandP99Milliseconds))
            Swift.print(String(format: "raw runc run of an equivalent bundle (floor): p50 %.0f ms, p95 %.0f ms; ratio at p50 %.1f×",
                               rawRuncP50Milliseconds, rawRuncP95Milliseconds, ratioP50))
            if densityServers > 0 {
                Swift.print(String(format: "density: %d idle servers; control plane RSS %.0f → %.0f MiB; host memory %.2f MiB per server",
                                   densityServers, controlPlaneRSSMiBBefore, controlPlaneRSSMiBAfter, hostMemoryMiBPerServer))
            }
        }
    }

    func run() async throws -> Report {
        try await BenchPlane.run { plane, port in
            let env = plane.environment
            let (token, session) = try await BenchPlane.signedIn(env)
            let project = try await ProjectService(env: env).create(session, name: "bench", slug: nil)
            let client = BenchPlane.client(plane, connections: 4)
            do {
                let report = try await measure(plane: plane, port: port, client: client, token: token, projectID: project.id)
                try await client.shutdown()
                return report
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
    }

    func measure(plane: ControlPlane, port: Int, client: HTTPClient, token: String, projectID: String) async throws -> Report {
        let base = "https://localhost:\(port)"

        func post(_ path: String, _ json: String) async throws -> [String: Any] {
            var request = HTTPClientRequest(url: base + path)
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
            let response = try await client.execute(request, timeout: .seconds(120))
            let body = try await response.body.collect(upTo: 1 << 20)
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
            guard (200..<300).contains(response.status.code) else {
                throw CommandFailure(message: "\(path) → \(response.status.code) \(String(buffer: body))")
            }
            return object
        }
        func delete(_ path: String) async throws {
            var request = HTTPClientRequest(url: base + path)
            request.method = .DELETE
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            _ = try await client.execute(request, timeout: .seconds(120))
        }
        let serverJSON = #"{"project_id":"\#(projectID)","name":"b","budget_usd":"1","memory_mb":128,"disk_mb":128}"#

        var firstCommand: [Double] = []
        var raw: [Double] = []
        let runtime = try RuncRuntime(directory: URL(fileURLWithPath: plane.options.dataDirectory).appendingPathComponent("runtime"))
        for index in 0..<count {
            let started = ContinuousClock.now
            let server = try await post("/v1/servers", serverJSON)
            let id = server["id"] as? String ?? ""
            _ = try await post("/v1/servers/\(id)/exec", #"{"argv":["/bin/true"]}"#)
            firstCommand.append((ContinuousClock.now - started).seconds)
            try await delete("/v1/servers/\(id)")
            // The floor, interleaved so both see the same machine.
            var spec = ContainerSpec(server: Server(
                id: "srv_raw\(index)", projectID: "p", accountID: "a", name: "raw", template: "base", cpuMillis: 1000,
                memoryMB: 128, diskMB: 128, pidsLimit: 512, budget: MicroDollars(1), network: .none, state: .running,
                uidSlot: 50_000 + index, createdAt: Date(), updatedAt: Date()))
            spec.id = "srv_raw\(index)"
            raw.append(try await runtime.rawRuncRun(spec))
        }

        var before = 0.0, after = 0.0, perServer = 0.0
        if density > 0 {
            before = Self.rssMiB()
            let available = Self.availableMiB()
            var ids: [String] = []
            for _ in 0..<density {
                ids.append(try await post("/v1/servers", #"{"project_id":"\#(projectID)","name":"d","budget_usd":"1","memory_mb":64,"disk_mb":64}"#)["id"] as? String ?? "")
            }
            try await Task.sleep(for: .seconds(2))
            after = Self.rssMiB()
            perServer = (available - Self.availableMiB()) / Double(density)
            for id in ids { try await delete("/v1/servers/\(id)") }
        }
        let p = BenchPlane.percentile
        return Report(
            firstCommandP50Milliseconds: p(firstCommand, 0.5) * 1000, firstCommandP95Milliseconds: p(firstCommand, 0.95) * 1000,
            firstCommandP99Milliseconds: p(firstCommand, 0.99) * 1000, rawRuncP50Milliseconds: p(raw, 0.5) * 1000,
            rawRuncP95Milliseconds: p(raw, 0.95) * 1000, ratioP50: p(firstCommand, 0.5) / max(p(raw, 0.5), 1e-6),
            densityServers: density, controlPlaneRSSMiBBefore: before, controlPlaneRSSMiBAfter: after,
            hostMemoryMiBPerServer: perServer, samples: count)
    }

    static func rssMiB() -> Double { statusField("/proc/self/status", "VmRSS:") / 1024 }
    static func availableMiB() -> Double { statusField("/proc/meminfo", "MemAvailable:") / 1024 }

    /// A "Name:   123 kB" line of a procfs file, in kB.
    static func statusField(_ path: String, _ name: String) -> Double {
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd() else { return 0 }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(name) }
        return Double(line?.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}
