import Foundation
import Hummingbird
import Logging
import S4AClient
import S4AServer
import ServiceLifecycle

/// The real HTTPS server of a test plane on an ephemeral loopback port, run as a service and
/// shut down gracefully at the end.
struct LiveServer {
    let port: Int
    let caCertificatePath: String

    /// Runs `body` against the live server; on failure the plane is closed before rethrowing.
    static func run<T>(_ test: TestPlane, _ body: (LiveServer) async throws -> T) async throws -> T {
        do {
            return try await serve(test, body)
        } catch {
            await test.close()
            throw error
        }
    }

    private static func serve<T>(_ test: TestPlane, _ body: (LiveServer) async throws -> T) async throws -> T {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try test.plane.application { port in continuation.yield(port) }
        var logger = Logger(label: "live-test")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let server = LiveServer(port: port, caCertificatePath: test.plane.caCertificatePath!)
            do {
                let result = try await body(server)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                return result
            } catch {
                await group.triggerGracefulShutdown()
                try? await tasks.waitForAll()
                throw error
            }
        }
    }

    /// A client connection for `body`, closed before returning so the server can drain at once.
    func withConnection<T>(token: String? = nil, trustingCA: Bool = true,
                           _ body: (APIConnection) async throws -> T) async throws -> T {
        try await APIConnection(baseURL: URL(string: "https://localhost:\(port)")!, token: token,
                                caCertificatePath: trustingCA ? caCertificatePath : nil).use(body)
    }
}
