import Hummingbird
import Logging
import NIOCore
import S4AACME

/// The plain-HTTP listener pebble's VA validates against: 127.0.0.1 on a free port, serving
/// `/.well-known/acme-challenge/<token>` from `HTTP01Challenges`, as the control plane will.
struct ChallengeServer {
    let port: Int
    private let task: Task<Void, any Error>

    static func start(challenges: HTTP01Challenges) async throws -> ChallengeServer {
        let router = Router()
        router.get("/.well-known/acme-challenge/:token") { _, context -> Response in
            guard let token = context.parameters.get("token"), let answer = challenges.response(forToken: token) else {
                return Response(status: .notFound)
            }
            return Response(status: .ok, headers: [.contentType: "text/plain"],
                            body: .init(byteBuffer: ByteBuffer(string: answer)))
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in
                                  continuation.yield(channel.localAddress?.port ?? 0)
                                  continuation.finish()
                              },
                              // Cancelling the task is how the test stops it: not worth an error line.
                              logger: { var logger = Logger(label: "s4a.acme.test.http01"); logger.logLevel = .critical; return logger }())
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            task.cancel()
            throw HarnessError("the challenge server did not start")
        }
        return ChallengeServer(port: port, task: task)
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}
