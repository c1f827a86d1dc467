import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import S4ADomain
import S4AWeb

/// `GET /v1/servers/{id}/shell` as a WebSocket: the server's terminal. Binary frames carry
/// input (client to server) and output (server to client); text frames carry JSON controls:
/// `{"type":"resize","cols":C,"rows":R}` from the client, `{"type":"exit","exit_code":N}`
/// from the server before it closes. A request that may not upgrade (no or bad credentials,
/// missing scope, server not running, cross-site cookie) is not upgraded: it falls through to
/// the contract's HTTP route, which answers with the problem.
public struct ShellRoute: Sendable {
    let servers: ServerService
    let authenticator: Authenticator
    let origins: OriginPolicy
    let appsDomain: String

    static let path = "/v1/servers/{server_id}/shell"
    /// Largest input message taken (a paste).
    public static let maxMessageBytes = 1 << 20

    public init(servers: ServerService, authenticator: Authenticator, origins: OriginPolicy, appsDomain: String) {
        (self.servers, self.authenticator, self.origins, self.appsDomain) = (servers, authenticator, origins, appsDomain)
    }

    public func router() -> Router<ShellRequestContext> {
        let router = Router(context: ShellRequestContext.self)
        router.ws("/v1/servers/:server_id/shell", shouldUpgrade: { request, context in
            // The API's own path, not a project URL's (where the app may have such a path).
            guard IngressHost.classify(request.head.authority, appsDomain: appsDomain) == .api,
                  let id = context.parameters.get("server_id"),
                  let principal = try await authenticate(request.head) else { return .dontUpgrade }
            _ = try await servers.checkShell(principal, id: id)
            let size = Self.size(request.uri.queryParameters)
            guard let size else { return .dontUpgrade }
            context.grant.set(ShellGrant.Value(principal: principal, serverID: id, size: size))
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, context in
            guard let grant = context.requestContext.grant.value else { return }
            try await bridge(grant, inbound: inbound, outbound: outbound, logger: context.logger)
        })
        return router
    }

    /// Bearer token, or the session cookie from one of our own origins (browsers send Origin
    /// on every WebSocket, so a cross-site page cannot ride the cookie).
    func authenticate(_ head: HTTPRequest) async throws -> Principal? {
        guard let (token, viaCookie) = AuthMiddleware.credentials(in: head) else { return nil }
        if viaCookie, !origins.allowsCookieUpgrade(head.headerFields) { return nil }
        return try await authenticator.principal(token: token)
    }

    /// `cols` and `rows` from the query (default 80×24); nil when out of range.
    static func size(_ query: Parameters) -> TerminalSize? {
        let columns = query.get("cols").map { Int($0) } ?? TerminalSize.standard.columns
        let rows = query.get("rows").map { Int($0) } ?? TerminalSize.standard.rows
        guard let columns, let rows, TerminalSize.range.contains(columns), TerminalSize.range.contains(rows) else { return nil }
        return TerminalSize(columns: columns, rows: rows)
    }

    private func bridge(_ grant: ShellGrant.Value, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
                        logger: Logger) async throws {
        let (run, session) = try await servers.openShell(grant.principal, id: grant.serverID, size: grant.size)
        // Input until the client leaves; then the shell is ended.
        let input = Task {
            do {
                for try await message in inbound.messages(maxSize: Self.maxMessageBytes) {
                    switch message {
                    case .binary(let buffer): await session.write(Array(buffer.readableBytesView))
                    case .text(let text): Self.control(text, session)
                    }
                }
            } catch {
                logger.debug("shell input ended", metadata: ["error": "\(error)"])
            }
            await session.terminate()
        }
        // A key revoked, a session ended or the server gone ends the shell within a second.
        let watch = Task { [authenticator] in
            try await authenticator.untilRevoked(Authority(grant.principal, .scope(.serversExec), serverID: grant.serverID))
            logger.info("shell ended: its authority was revoked", metadata: ["server": "\(grant.serverID)"])
            await session.terminate()
        }
        defer { watch.cancel() }
        for await chunk in session.output {
            try? await outbound.write(.binary(ByteBuffer(bytes: chunk)))
        }
        let code = await session.wait()
        _ = try? await servers.finishShell(run, exitCode: code)
        try? await outbound.write(.text(#"{"type":"exit","exit_code":\#(code)}"#))
        try? await outbound.close(.normalClosure, reason: nil)
        input.cancel()
    }

    /// A control message: only resizes for now; anything else is ignored.
    static func control(_ text: String, _ session: any ShellSession) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
              object["type"] as? String == "resize",
              let columns = object["cols"] as? Int, let rows = object["rows"] as? Int,
              TerminalSize.range.contains(columns), TerminalSize.range.contains(rows) else { return }
        session.resize(TerminalSize(columns: columns, rows: rows))
    }
}

/// What the upgrade check found, handed to the WebSocket handler.
final class ShellGrant: @unchecked Sendable {
    struct Value: Sendable {
        var principal: Principal
        var serverID: String
        var size: TerminalSize
    }

    private let lock = NSLock()
    private var stored: Value?
    var value: Value? { lock.withLock { stored } }
    func set(_ value: Value) { lock.withLock { stored = value } }
}

/// The WebSocket router's request context, carrying the grant from upgrade check to handler.
public struct ShellRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<ShellRequestContext>
    let grant = ShellGrant()
    let appSocket = AppSocketGrant()
    let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
    }
}
