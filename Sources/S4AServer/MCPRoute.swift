import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import S4AAPI
import S4AClient
import S4ADomain
import S4AMCP

/// `/mcp`: the agents' MCP server over Streamable HTTP (stateless), for clients that speak
/// HTTP instead of starting `s4a mcp`. A bearer API key (or session token) is required and
/// must be valid; each tool call then goes through the API's own router, in process, with that
/// same key, so its scopes, project restriction and ceilings apply as on every other route.
struct MCPRoute {
    let endpoint: AgentMCPHTTPEndpoint
    let authenticator: Authenticator
    /// The API's routes and middleware, which the tool calls go through.
    let api: RouterResponder<S4ARequestContext>
    let apiURL: URL
    let maxBodyBytes: Int

    func add(to router: Router<S4ARequestContext>) {
        for method in [HTTPRequest.Method.post, .get, .delete] {
            router.on("/mcp", method: method) { request, context in try await handle(request, context: context) }
        }
    }

    func handle(_ request: Request, context: S4ARequestContext) async throws -> Response {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw DomainError.unauthenticated
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard !token.isEmpty, try await authenticator.principal(token: token) != nil else { throw DomainError.unauthenticated }
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { "\($0), \(field.value)" } ?? field.value
        }
        let transport = InProcessTransport(responder: api, channel: context.channel, logger: context.logger,
                                           maxBodyBytes: maxBodyBytes)
        let connection = APIConnection(baseURL: apiURL, token: token, transport: transport, close: { transport.close() })
        let answer = await endpoint.handle(method: request.method.rawValue, path: request.uri.path, headers: headers,
                                           body: body.readableBytes > 0 ? Data(body.readableBytesView) : nil,
                                           access: FixedAPIAccess(connection: connection))
        await connection.shutdown()
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let name = HTTPField.Name(name) { fields[name] = value }
        }
        fields[.cacheControl] = "no-store"
        return Response(status: .init(code: answer.status), headers: fields,
                        body: .init(byteBuffer: ByteBuffer(bytes: answer.body ?? Data())))
    }
}
