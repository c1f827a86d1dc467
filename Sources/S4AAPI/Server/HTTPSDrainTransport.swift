import AsyncHTTPClient
import Foundation
import Logging
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
/// refused before any connection (see `DrainAddressPolicy`).
final class HTTPSDrainTransport: DrainTransport {
    let client: HTTPClient
    let timeout: TimeAmount
    let allowPrivateNetworks: Bool

    init(extraRootsPEMFile: String?, allowPrivateNetworks: Bool, timeout: TimeAmount = .seconds(10)) {
        self.allowPrivateNetworks = allowPrivateNetworks
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let extraRootsPEMFile { tls.additionalTrustRoots = [.file(extraRootsPEMFile)] }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(5), read: timeout))
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = timeout
    }

    func post(url: String, headers: [(name: String, value: String)], body: [UInt8]) async -> String? {
        if !allowPrivateNetworks, let refusal = await Self.refusal(url) { return refusal }
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
        } catch let error as HTTPClientError where error == .connectTimeout {
            return "the endpoint did not answer the connection within 5 s"
        } catch let error as NIOSSLError {
            return "TLS with the endpoint failed: \(error)"
        } catch {
            return String("sending to the endpoint failed: \(error)".prefix(300))
        }
    }

    func shutdown() async { try? await client.shutdown() }

    /// Why `url`'s host may not be sent to, if it may not. (The HTTP client resolves the name
    /// again to connect: a name that changes its answer in between is not caught here.)
    static func refusal(_ url: String) async -> String? {
        guard var host = URLComponents(string: url)?.host, !host.isEmpty else { return "the endpoint's URL has no host" }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let name = host
        guard let addresses = try? await NIOThreadPool.singleton.runIfActive({ resolve(name) }), !addresses.isEmpty else {
            return "the endpoint's host name did not resolve"
        }
        guard addresses.allSatisfy(DrainAddressPolicy.isPublic) else {
            return "the endpoint resolves to a private, loopback or link-local address (s4a serve --drain-allow-private allows these)"
        }
        return nil
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
