import Foundation
import S4ADomain
@testable import S4ARuntime
import Testing

/// A real runc runtime in a temporary directory, with servers that are destroyed afterwards.
final class RuntimeFixture: @unchecked Sendable {
    let directory: URL
    let runtime: RuncRuntime
    private var slot = Int.random(in: 1_000...50_000)

    /// `uidBlocks`: a registry of host uid blocks of its own (else the host's).
    init(uidBlocks: URL? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-rt-\(UUID().uuidString.prefix(8))")
        runtime = try RuncRuntime(directory: directory, uidBlocks: uidBlocks)
    }

    func spec(memoryMB: Int = 256, diskMB: Int = 128, pids: Int = 128, cpuMillis: Int = 1000) -> ContainerSpec {
        slot += 1
        let server = Server(id: "srv_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""),
                            projectID: "prj_test", accountID: "acc_test", name: "t", template: "base",
                            cpuMillis: cpuMillis, memoryMB: memoryMB, diskMB: diskMB, pidsLimit: pids,
                            budget: MicroDollars(1), network: .none, state: .creating, uidSlot: slot,
                            createdAt: Date(), updatedAt: Date())
        return ContainerSpec(server: server)
    }

    /// Prepares and starts a server for `body`, then destroys it.
    func withServer<T>(_ spec: ContainerSpec? = nil, _ body: (ContainerSpec) async throws -> T) async throws -> T {
        let spec = spec ?? self.spec()
        try await runtime.prepare(spec)
        do {
            try await runtime.start(spec)
            let result = try await body(spec)
            try await runtime.destroy(spec.id)
            return result
        } catch {
            try? await runtime.destroy(spec.id)
            throw error
        }
    }

    func sh(_ id: String, _ script: String, stdin: String = "", timeout: Duration = .seconds(30),
            env: [String: String] = [:], cwd: String = "/root", limit: Int = 1 << 20) async throws -> ExecResult {
        try await runtime.exec(id, ExecRequest(argv: ["/bin/sh", "-c", script], cwd: cwd, env: env, stdin: Array(stdin.utf8),
                                               timeout: timeout, outputLimit: limit))
    }

    /// A fixture for `body`; afterwards nothing of it remains (containers, mounts, loops, files).
    static func run<T>(uidBlocks: URL? = nil, _ body: (RuntimeFixture) async throws -> T) async throws -> T {
        let fixture = try RuntimeFixture(uidBlocks: uidBlocks)
        do {
            let result = try await body(fixture)
            await fixture.close()
            return result
        } catch {
            await fixture.close()
            throw error
        }
    }

    func close() async {
        _ = try? await runtime.removeOrphans(keeping: [])
        try? FileManager.default.removeItem(at: directory)
    }
}

extension ExecResult {
    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }
}

/// runc needs root and the runc/tini packages (`make test` installs them).
let runtimeAvailable = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc")
