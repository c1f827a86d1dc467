import Foundation
import MCP

/// MCP over Streamable HTTP for `s4a serve`'s `/mcp`, stateless (one JSON answer per POST, no
/// session): each request comes with the access its tool calls use (the caller's own key), so
/// callers share nothing but this endpoint. Framework-free: the control plane adapts its
/// requests and answers.
public struct AgentMCPHTTPEndpoint: Sendable {
    let validators: [any HTTPRequestValidator]

    public struct Answer: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: Data?
    }

    /// `apiURL`: the control plane's own address, the only host and origin taken.
    public init(apiURL: URL) {
        // DNS rebinding protection: the API's own host names only, and no browser Origin but
        // the platform's own (the bearer key is required anyway; cookies are not taken).
        let host = apiURL.host ?? "localhost"
        let hosts = Set([host, "localhost", "127.0.0.1", "[::1]"]).sorted().flatMap { [$0, "\($0):*"] }
        var origin = "\(apiURL.scheme ?? "https")://\(host)"
        if let port = apiURL.port { origin += ":\(port)" }
        validators = [
            OriginValidator(allowedHosts: hosts, allowedOrigins: [origin]),
            AcceptHeaderValidator(mode: .jsonOnly),
            ContentTypeValidator(),
            ProtocolVersionValidator(),
        ]
    }

    /// One request, answered by a server of its own (stateless: nothing is kept between
    /// requests, so callers with different keys share nothing). `headers`: names in any case;
    /// `access`: the caller's, for its tool calls.
    public func handle(method: String, path: String, headers: [String: String], body: Data?,
                       access: any APIAccess) async -> Answer {
        let transport = StatelessHTTPServerTransport(validationPipeline: StandardValidationPipeline(validators: validators))
        let server = await AgentMCPServer.make(access: access, mask: SecretMask(remembers: false))
        do {
            try await server.start(transport: transport)
        } catch {
            return Answer(status: 500, headers: ["Content-Type": "text/plain"], body: Data("MCP server failed to start".utf8))
        }
        let response = await transport.handleRequest(MCP.HTTPRequest(method: method, headers: headers, body: body, path: path))
        await server.stop()
        return Answer(status: response.statusCode, headers: response.headers, body: response.bodyData)
    }
}
