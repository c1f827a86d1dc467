import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOSSL
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import S4AContract

/// A typed connection to a control plane: the generated client over AsyncHTTPClient,
/// trusting the platform's CA when given one and sending the bearer token on every call.
public final class APIConnection: Sendable {
    public let client: Client
    public let baseURL: URL
    /// Nil when the calls go over another transport.
    let http: HTTPClient?
    let closeTransport: @Sendable () async -> Void
    /// For connections the generated client does not make (the shell's WebSocket).
    let token: String?
    let tls: TLSConfiguration

    /// - Parameters:
    ///   - caCertificatePath: a PEM file to trust (the platform's local CA); nil: the system's roots.
    ///   - token: an API key or session token; nil for unauthenticated calls.
    public init(baseURL: URL, token: String?, caCertificatePath: String?, timeout: TimeAmount = .minutes(5)) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caCertificatePath {
            tls.trustRoots = .file(caCertificatePath)
        }
        self.tls = tls
        self.token = token
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .http1Only
        // A refused certificate or connection is reported at once instead of retried until
        // the connect timeout: the CLI should say what is wrong without a 10 s wait.
        configuration.connectionPool.retryConnectionEstablishment = false
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.http = http
        closeTransport = {}
        self.baseURL = baseURL
        client = Client(
            serverURL: baseURL, configuration: .s4a,
            transport: AsyncHTTPClientTransport(configuration: .init(client: http, timeout: timeout)),
            middlewares: token.map { [BearerMiddleware(token: $0)] } ?? [])
    }

    /// A connection over another transport (the control plane's `/mcp` calls its own router in
    /// process); `close` runs at `shutdown()`.
    public init(baseURL: URL, token: String?, transport: any ClientTransport,
                close: @escaping @Sendable () async -> Void = {}) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        self.tls = tls
        self.token = token
        self.baseURL = baseURL
        http = nil
        closeTransport = close
        client = Client(serverURL: baseURL, configuration: .s4a, transport: transport,
                        middlewares: token.map { [BearerMiddleware(token: $0)] } ?? [])
    }

    public func shutdown() async {
        try? await http?.shutdown()
        await closeTransport()
    }

    /// Runs `body` with this connection and shuts it down afterwards, whatever happens.
    public func use<T>(_ body: (APIConnection) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await shutdown()
            return result
        } catch {
            await shutdown()
            throw error
        }
    }
}

/// Adds `Authorization: Bearer …` to every request.
struct BearerMiddleware: ClientMiddleware {
    let token: String

    func intercept(_ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = "Bearer \(token)"
        return try await next(request, body, baseURL)
    }
}

/// An error answer of the API, as the client sees it.
public struct APIProblem: Error, CustomStringConvertible, Sendable {
    public var status: Int
    public var problem: Components.Schemas.Problem?

    public init(status: Int, _ response: Components.Responses.Problem) {
        self.status = status
        if case .applicationProblemJson(let problem) = response.body { self.problem = problem }
    }

    public var description: String {
        guard let problem else { return "the server answered \(status)" }
        var text = "\(problem.title) (\(status)): \(problem.detail ?? problem._type)"
        for field in problem.errors ?? [] { text += "\n  \(field.field): \(field.message)" }
        return text
    }
}
