import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import S4ADomain
import ServiceLifecycle

/// Log drain batches over HTTPS: the system's roots (plus the operator's `--drain-ca-file`),
/// TLS 1.2 or newer, no redirects, and a deadline on every request so an endpoint that never
/// answers costs its drain a timeout, and nothing else.
final class HTTPSDrainTransport: DrainTransport {
    let client: HTTPClient
    let timeout: TimeAmount

    init(extraRootsPEMFile: String?, timeout: TimeAmount = .seconds(10)) {
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
