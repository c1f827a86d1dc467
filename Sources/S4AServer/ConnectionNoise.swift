import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// Anyone can open a connection and fail its TLS handshake (or drop it before its first
/// request): each such failure is counted in `/metrics` and logged at debug level, not as an
/// error line per attempt that lets a stranger fill the operator's log.
final class TLSFailureCounter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    static let failures = Counter(label: "s4a_tls_handshake_failures_total")
    let logger: Logger
    /// After the handshake, TLS errors (a peer leaving without close_notify) are not failures of it.
    private var handshaken = false

    init(logger: Logger) { self.logger = logger }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { handshaken = true }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !handshaken, error is NIOSSLError || error is BoringSSLError {
            Self.failures.increment()
            logger.debug("TLS handshake failed", metadata: ["peer": "\(context.remoteAddress?.description ?? "?")",
                                                            "error": "\(error)"])
        }
        context.fireErrorCaught(error)
    }
}

/// The logger a connection's upgrade negotiation writes to: its "Error handling upgrade result"
/// (a handshake that failed, a connection closed before its first request) is demoted to
/// debug; every other line passes unchanged.
struct ConnectionNoiseFilter: LogHandler {
    var base: any LogHandler

    static let noise: Set<String> = ["Error handling upgrade result"]

    static func wrap(_ logger: Logger) -> Logger {
        let base = logger.handler
        return Logger(label: logger.label) { _ in ConnectionNoiseFilter(base: base) }
    }

    func log(event: LogEvent) {
        guard Self.noise.contains(event.message.description), event.level > .debug else { return base.log(event: event) }
        guard base.logLevel <= .debug else { return }
        var demoted = event
        demoted.level = .debug
        base.log(event: demoted)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }
}

/// NIO's upgrade handler swallows the head of a request that asks to upgrade to a protocol
/// nobody here speaks (`Upgrade: h2c`, …), which then got an empty reply. Such a request is an
/// ordinary request to us: this drops the header (and its `Connection` token) before the
/// upgrade handler looks, so it gets an HTTP answer. WebSocket upgrades pass untouched.
final class ForeignUpgradeFilter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// Only a connection's first request can upgrade (the upgrade handler leaves after it), and
    /// after an upgrade what flows here is no longer HTTP: the filter leaves with the first head.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        // Passed on first, then gone (a removed handler's context forwards nothing).
        defer { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
        guard head.headers.contains(name: "upgrade"),
              !head.headers["upgrade"].contains(where: { $0.lowercased().contains("websocket") }) else {
            return context.fireChannelRead(data)
        }
        head.headers.remove(name: "upgrade")
        let connection = head.headers["connection"].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.lowercased() != "upgrade" }
        head.headers.remove(name: "connection")
        if !connection.isEmpty { head.headers.add(name: "connection", value: connection.joined(separator: ", ")) }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    /// Puts the filter right after the HTTP decoder of a channel set up for upgrades.
    static func install(on channel: any Channel) throws {
        let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try channel.pipeline.syncOperations.addHandler(ForeignUpgradeFilter(), position: .after(decoder))
    }
}
