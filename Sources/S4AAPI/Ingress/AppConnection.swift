import Glibc
import HTTPTypes
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOPosix
import S4ADomain

/// One HTTP/1.1 connection to an app inside a server, made in the server's network namespace
/// by the runtime. A task owns it and serves one exchange at a time; between exchanges it
/// waits in the pool for the next request to the same server.
final class AppConnection: Sendable {
    struct Exchange: Sendable {
        var head: HTTPRequest
        var body: RequestBody
        var response: CheckedContinuation<(HTTPResponse, BodyPipe), any Error>
    }

    struct Broken: Error, CustomStringConvertible {
        var description: String
    }

    let serverID: String
    let port: Int
    private let exchanges: AsyncStream<Exchange>.Continuation
    private let open = NIOLockedValueBox(true)

    var isOpen: Bool { open.withLockedValue { $0 } }

    private init(serverID: String, port: Int, exchanges: AsyncStream<Exchange>.Continuation) {
        self.serverID = serverID
        self.port = port
        self.exchanges = exchanges
    }

    /// Connects to `port` inside the server and starts the task that owns the connection;
    /// `idle` is called after each exchange that left it reusable.
    static func open(runtime: any ContainerRuntime, serverID: String, port: Int,
                     idle: @escaping @Sendable (AppConnection) async -> Void) async throws -> AppConnection {
        let socket = try await runtime.connect(serverID, port: port)
        let channel: NIOAsyncChannel<HTTPResponsePart, HTTPRequestPart>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .withConnectedSocket(socket) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandlers([HTTP1ToHTTPClientCodec(),
                                                                         IdleStateHandler(allTimeout: .seconds(60)),
                                                                         CloseWhenIdle()])
                        return try NIOAsyncChannel<HTTPResponsePart, HTTPRequestPart>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            _ = Glibc.close(socket)
            throw error
        }
        let (stream, continuation) = AsyncStream<Exchange>.makeStream()
        let connection = AppConnection(serverID: serverID, port: port, exchanges: continuation)
        // Closed by the app (or idleness) while pooled: not handed out again.
        channel.channel.closeFuture.whenComplete { _ in connection.open.withLockedValue { $0 = false } }
        Task {
            await connection.serve(channel, stream, idle: idle)
        }
        return connection
    }

    /// Sends the request; returns the app's response head and its body as it comes.
    func exchange(_ head: HTTPRequest, body: RequestBody) async throws -> (HTTPResponse, BodyPipe) {
        try await withCheckedThrowingContinuation { continuation in
            if case .terminated = exchanges.yield(Exchange(head: head, body: body, response: continuation)) {
                continuation.resume(throwing: Broken(description: "the connection to the app closed"))
            }
        }
    }

    func close() { exchanges.finish() }

    private func serve(_ channel: NIOAsyncChannel<HTTPResponsePart, HTTPRequestPart>, _ stream: AsyncStream<Exchange>,
                       idle: @escaping @Sendable (AppConnection) async -> Void) async {
        defer {
            open.withLockedValue { $0 = false }
            exchanges.finish()
        }
        // Whatever is still queued when the connection ends is answered with an error.
        var pending: Exchange?
        do {
            try await channel.executeThenClose { inbound, outbound in
                var responses = inbound.makeAsyncIterator()
                for await exchange in stream {
                    pending = exchange
                    try await outbound.write(.head(exchange.head))
                    for try await buffer in exchange.body { try await outbound.write(.body(buffer)) }
                    try await outbound.write(.end(nil))
                    var head: HTTPResponse?
                    while head == nil {
                        switch try await responses.next() {
                        case .head(let response)?:
                            // 1xx heads (100 Continue) are not the answer.
                            if response.status.kind != .informational { head = response }
                        case .body?, .end?: throw Broken(description: "the app answered out of order")
                        case nil: throw Broken(description: "the app closed the connection")
                        }
                    }
                    let pipe = BodyPipe()
                    pending = nil
                    exchange.response.resume(returning: (head!, pipe))
                    do {
                        loop: while true {
                            switch try await responses.next() {
                            case .body(let buffer)?: try await pipe.send(buffer)
                            case .end?: break loop
                            case .head?: throw Broken(description: "the app answered out of order")
                            case nil: throw Broken(description: "the app closed the connection mid-answer")
                            }
                        }
                        pipe.finish()
                    } catch {
                        pipe.finish(error)
                        throw error
                    }
                    let closing = head!.headerFields[.connection]?.lowercased().contains("close") == true
                        || exchange.head.headerFields[.connection]?.lowercased().contains("close") == true
                    if closing { return }
                    await idle(self)
                }
            }
        } catch {
            pending?.response.resume(throwing: Broken(description: "\(error)"))
            pending = nil
        }
        for await exchange in stream {  // finished above: only what raced in
            exchange.response.resume(throwing: Broken(description: "the connection to the app closed"))
        }
    }
}

/// Kept-alive connections to apps, per server and port.
public actor AppConnectionPool {
    private var idle: [String: [AppConnection]] = [:]
    static let maxIdlePerServer = 8
    let runtime: any ContainerRuntime

    public init(runtime: any ContainerRuntime) {
        self.runtime = runtime
    }

    func connection(serverID: String, port: Int) async throws -> AppConnection {
        let key = "\(serverID):\(port)"
        while let candidate = idle[key]?.popLast() {
            if candidate.isOpen { return candidate }
        }
        return try await AppConnection.open(runtime: runtime, serverID: serverID, port: port) { [weak self] connection in
            await self?.release(connection)
        }
    }

    func release(_ connection: AppConnection) {
        let key = "\(connection.serverID):\(connection.port)"
        var list = idle[key, default: []].filter(\.isOpen)
        if list.count >= Self.maxIdlePerServer {
            connection.close()
        } else {
            list.append(connection)
        }
        idle[key] = list
    }
}

/// Closes a pooled connection nobody used for a while.
final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
