import AsyncHTTPClient
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import S4ADomain
import ServiceLifecycle

/// Log drain batches over HTTPS: the system's roots (plus the operator's `--drain-ca-file`),
/// TLS 1.2 or newer, no redirects, and a deadline on every request so an endpoint that never
/// answers costs its drain a timeout, and nothing else. Unless the operator allows private
/// networks, an endpoint whose name resolves to a loopback, private or link-local address is
/// refused before any connection (see `DrainAddressPolicy`), and the connection goes to the
/// very address that was checked: each host gets a client pinned to it (SNI and the certificate
/// still name the host), so a name that answers differently a moment later (DNS rebinding)
/// cannot steer a drain to the host's own services.
final class HTTPSDrainTransport: DrainTransport {
    let configuration: HTTPClient.Configuration
    let timeout: TimeAmount
    let allowPrivateNetworks: Bool
    /// Per host: the address it was checked at and the client that connects there.
    private let pinned = NIOLockedValueBox<[String: (address: String, client: HTTPClient)]>([:])

    init(extraRootsPEMFile: String?, allowPrivateNetworks: Bool, timeout: TimeAmount = .seconds(10)) {
        self.allowPrivateNetworks = allowPrivateNetworks
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let extraRootsPEMFile { tls.additionalTrustRoots = [.file(extraRootsPEMFile)] }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(5), read: timeout))
        configuration.httpVersion = .http1Only
        self.configuration = configuration
        self.timeout = timeout
    }

    func post(url: String, headers: [(name: String, value: String)], body: [UInt8]) async -> String? {
        let client: HTTPClient
        switch await check(url) {
        case .refused(let why): return why
        case .allowed(let host, let address): client = self.client(for: host, at: address)
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: timeout)
            // Read (a little of) the answer so the connection can be reused; its content is not kept.
            _ = try? await response.body.collect(upTo: 64 << 10)
            guard (200..<300).contains(response.status.code) else { return "the endpoint answered HTTP \(response.status.code)" }
            return nil
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return "the endpoint did not answer within \(timeout.nanoseconds / 1_000_000_000) s"
        } catch let error as NIOSSLError {
            return "TLS with the endpoint failed: \(error)"
        } catch {
            // Refused, unreachable or timed out alike: the reason must not tell a closed port
            // from a filtered one.
            return "the endpoint could not be reached"
        }
    }

    /// Only what resolves to a forbidden address is refused here: a name that does not resolve
    /// yet may later, and is checked again at every connection.
    func refusal(for url: String) async -> String? {
        switch await check(url) {
        case .refused(let why) where why != Self.unresolved: return why
        default: return nil
        }
    }

    static let unresolved = "the endpoint's host name did not resolve"

    enum Check: Equatable {
        case refused(String)
        /// May be sent to, at this address (textual IPv4 or IPv6).
        case allowed(host: String, address: String)
    }

    /// Resolves `url`'s host once; the answer decides both whether and where to connect.
    func check(_ url: String) async -> Check {
        guard var host = URLComponents(string: url)?.host, !host.isEmpty else { return .refused("the endpoint's URL has no host") }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let name = host
        // IPv4 first when there is one: a pin must pick one address, and this pick is the stable one.
        guard let addresses = try? await NIOThreadPool.singleton.runIfActive({ Self.resolve(name) }),
              let first = addresses.first(where: { $0.count == 4 }) ?? addresses.first, let address = Self.text(first) else {
            return .refused(Self.unresolved)
        }
        if !allowPrivateNetworks {
            let own = HostAddresses.current()
            guard addresses.allSatisfy({ DrainAddressPolicy.isPublic($0) && !own.contains($0) }) else {
                return .refused("the endpoint resolves to this host or to a private, loopback, link-local or reserved address "
                                + "(s4a serve --drain-allow-private allows these)")
            }
        }
        return .allowed(host: name, address: address)
    }

    /// The client that connects to `host` at `address`; a new one (the old one closed) when the
    /// host's address changed since.
    func client(for host: String, at address: String) -> HTTPClient {
        let (client, replaced) = pinned.withLockedValue { clients -> (HTTPClient, HTTPClient?) in
            if let current = clients[host], current.address == address { return (current.client, nil) }
            var configuration = self.configuration
            configuration.dnsOverride = [host: address]
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            let old = clients[host]?.client
            clients[host] = (address, client)
            return (client, old)
        }
        if let replaced { Task { try? await replaced.shutdown() } }
        return client
    }

    /// An address's text form (`inet_ntop`), as the HTTP client takes it.
    static func text(_ bytes: [UInt8]) -> String? {
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        return ok ? String(cString: buffer) : nil
    }

    func shutdown() async {
        let clients = pinned.withLockedValue { clients in
            defer { clients = [:] }
            return clients.values.map(\.client)
        }
        for client in clients { try? await client.shutdown() }
    }

    /// Every address `host` resolves to (4 or 16 bytes each), by the system's resolver.
    static func resolve(_ host: String) -> [[UInt8]] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [[UInt8]] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            if let address = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    var ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    addresses.append(withUnsafeBytes(of: &ip) { Array($0) })
                case AF_INET6:
                    var ip = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    addresses.append(withUnsafeBytes(of: &ip) { Array($0) })
                default: break
                }
            }
            next = info.pointee.ai_next
        }
        return addresses
    }
}

/// The log drains' delivery (see `LogDrainDelivery`), stopped on graceful shutdown.
struct LogDrainSender: Service {
    let delivery: LogDrainDelivery
    let transport: HTTPSDrainTransport
    let logger: Logger

    func run() async throws {
        let logger = self.logger
        await cancelWhenGracefulShutdown {
            await delivery.run { logger.error("\($0)") }
        }
        await transport.shutdown()
    }
}
