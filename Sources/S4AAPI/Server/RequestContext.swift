import Hummingbird
import NIOCore
import S4ADomain

/// Hummingbird's per-request context, carrying the peer address for throttling and `/metrics`.
public struct S4ARequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The client's connection (the ingress closes it when a stream is cancelled).
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }
}

/// What the OpenAPI layer cannot see of a request: who sent it and from where.
/// Set by the Hummingbird middleware and the auth middleware, read by handlers.
enum RequestScope {
    @TaskLocal static var clientAddress: String?
    @TaskLocal static var principal: Principal?

    static var isLoopback: Bool {
        guard let address = clientAddress else { return false }
        return address == "127.0.0.1" || address.hasPrefix("127.") || address == "::1"
    }

    /// The authenticated caller; the auth middleware guarantees one on non-public operations.
    static func requirePrincipal() throws -> Principal {
        guard let principal else { throw DomainError.unauthenticated }
        return principal
    }
}
