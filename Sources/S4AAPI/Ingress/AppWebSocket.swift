import Foundation
import Glibc
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import S4ADomain

/// WebSockets through a project's URL: the upgrade is first made with the app (over a
/// connection in the server's namespace); only if the app accepts is the client upgraded,
/// and then frames are relayed both ways until either side closes. Anything else falls
/// through to the HTTP ingress (and so to the same 404 for a URL that serves nothing).
public struct AppWebSocketRoute: Sendable {
    let appsDomain: String
    let ingress: IngressService
    let previews: PreviewGrants
    let runtime: any ContainerRuntime

    static let maxFrameBytes = 1 << 20

    public init(appsDomain: String, ingress: IngressService, previews: PreviewGrants, runtime: any ContainerRuntime) {
        (self.appsDomain, self.ingress, self.previews, self.runtime) = (appsDomain, ingress, previews, runtime)
    }

    public func add(to router: Router<ShellRequestContext>) {
        router.ws("**", shouldUpgrade: { request, context in
            guard case .app(let slug) = IngressHost.classify(request.head.authority, appsDomain: appsDomain),
                  case .app(let serverID, let port) = try await ingress.target(
                      slug: slug, grant: PreviewCookie.grant(in: request.headers, slug: slug, previews: previews)) else {
                return .dontUpgrade
            }
            guard let (app, protocolChosen) = try? await Self.open(runtime: runtime, serverID: serverID, port: port,
                                                                   request: request.head,
                                                                   client: context.remoteAddress?.ipAddress) else {
                return .dontUpgrade
            }
            context.appSocket.set(app)
            var headers = HTTPFields()
            if let protocolChosen { headers[.secWebSocketProtocol] = protocolChosen }
            runtime.logAccess(serverID, "GET \(request.head.path ?? "/") 101 websocket")
            return .upgrade(headers)
        }, onUpgrade: { inbound, outbound, context in
            guard let app = context.requestContext.appSocket.take() else { return }
            try await Self.relay(app, inbound: inbound, outbound: outbound)
        })
    }

    enum Upgrade: Sendable {
        case upgraded(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, String?)
        case refused
    }

    /// Makes the WebSocket handshake with the app; nil when it refuses.
    static func open(runtime: any ContainerRuntime, serverID: String, port: Int, request: HTTPRequest,
                     client: String?) async throws -> (NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, String?)? {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: request.path ?? "/")
        let forwarded = ProxyHeaders.request(request, client: client)
        for field in forwarded.headerFields {
            let name = field.name.canonicalName
            // The handshake's own headers are the upgrader's to set.
            guard !name.hasPrefix("sec-websocket-key"), name != "sec-websocket-version", name != "sec-websocket-extensions"
            else { continue }
            head.headers.add(name: field.name.rawName, value: field.value)
        }
        head.headers.replaceOrAdd(name: "Host", value: request.authority ?? "localhost")
        let requestHead = head
        let socket = try await runtime.connect(serverID, port: port)
        let chosen = NIOLockedValueBox<String?>(nil)
        let result: EventLoopFuture<Upgrade>
        do {
            result = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).withConnectedSocket(socket) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Upgrade>(maxFrameSize: maxFrameBytes) { channel, response in
                        chosen.withLockedValue { $0 = response.headers.first(name: "Sec-WebSocket-Protocol") }
                        return channel.eventLoop.makeCompletedFuture {
                            .upgraded(try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(wrappingChannelSynchronously: channel),
                                      nil)
                        }
                    }
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Upgrade>(
                        upgradeRequestHead: requestHead, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in
                            channel.close(promise: nil)
                            return channel.eventLoop.makeSucceededFuture(.refused)
                        })
                    return try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                }
            }
        } catch {
            _ = Glibc.close(socket)
            throw error
        }
        guard case .upgraded(let channel, _) = try await result.get() else { return nil }
        return (channel, chosen.withLockedValue { $0 })
    }

    /// Frames both ways until one side closes; the client's frames are masked toward the app
    /// (it is the app's client now), pings from the app are answered here.
    static func relay(_ app: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, inbound: WebSocketInboundStream,
                      outbound: WebSocketOutboundWriter) async throws {
        try await app.executeThenClose { fromApp, toApp in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await frame in inbound {
                        let opcode: WebSocketOpcode = switch frame.opcode {
                        case .text: .text
                        case .binary: .binary
                        case .continuation: .continuation
                        }
                        try await toApp.write(WebSocketFrame(fin: frame.fin, opcode: opcode, maskKey: .random(), data: frame.data))
                    }
                    // The client closed: so does the app's side.
                    var reason = ByteBuffer()
                    reason.write(webSocketErrorCode: .normalClosure)
                    try? await toApp.write(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: reason))
                }
                group.addTask {
                    for try await frame in fromApp {
                        switch frame.opcode {
                        case .text, .binary, .continuation:
                            try await outbound.write(.custom(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.data)))
                        case .ping:
                            try await toApp.write(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.data))
                        case .connectionClose:
                            var data = frame.data
                            let code = data.readWebSocketErrorCode() ?? .normalClosure
                            try? await outbound.close(code, reason: nil)
                            return
                        default:
                            continue
                        }
                    }
                    try? await outbound.close(.goingAway, reason: nil)
                }
                // Either side ending ends the relay.
                _ = try await group.next()
                group.cancelAll()
            }
        }
    }
}

/// The app connection made by the upgrade check, handed to the relay.
final class AppSocketGrant: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>?
    func set(_ value: NIOAsyncChannel<WebSocketFrame, WebSocketFrame>) { lock.withLock { stored = value } }
    func take() -> NIOAsyncChannel<WebSocketFrame, WebSocketFrame>? { lock.withLock { defer { stored = nil }; return stored } }
}
