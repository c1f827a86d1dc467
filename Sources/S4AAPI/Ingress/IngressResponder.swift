import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import S4ADomain

/// The front of the listener: requests for `<slug>.<apps-domain>` go to the app behind that
/// project's URL, when the project is public; every other request goes to the API router.
public struct IngressResponder<API: HTTPResponder>: HTTPResponder where API.Context == S4ARequestContext {
    public typealias Context = S4ARequestContext
    let api: API
    let appsDomain: String
    let ingress: IngressService
    let previews: PreviewGrants
    /// The API host's URL, where a preview starts (`/preview/<slug>`, a signed-in person's).
    let apiURL: String
    let pool: AppConnectionPool
    let runtime: any ContainerRuntime
    let logger: Logger

    public func respond(to request: Request, context: Context) async throws -> Response {
        switch IngressHost.classify(request.head.authority, appsDomain: appsDomain) {
        case .api: return try await api.respond(to: request, context: context)
        case .unknown: return IngressAnswers.notFound()
        case .app(let slug):
            // The preview's two paths answer the same for every name, taken or not, public or not.
            switch request.uri.path {
            case PreviewGrants.startPath: return PreviewCookie.start(apiURL: apiURL, slug: slug)
            case PreviewGrants.acceptPath: return try await acceptGrant(request, slug: slug)
            default: return try await proxy(request, slug: slug, context: context)
            }
        }
    }

    /// Takes a grant from the query into a host-only cookie, if it is genuine and opens this
    /// project; else the 404 of a name nobody took.
    private func acceptGrant(_ request: Request, slug: String) async throws -> Response {
        guard let token = request.uri.queryParameters.get("grant"), let grant = previews.check(token, slug: slug),
              (try? await ingress.target(slug: slug, grant: grant)).map({ $0 != .notServed }) == true else {
            return IngressAnswers.notFound()
        }
        return PreviewCookie.accept(token, grant: grant)
    }

    private func proxy(_ request: Request, slug: String, context: Context) async throws -> Response {
        let started = ContinuousClock.now
        let target: IngressTarget
        do {
            target = try await ingress.target(slug: slug, grant: PreviewCookie.grant(in: request.headers, slug: slug,
                                                                                      previews: previews))
        } catch {
            logger.error("ingress lookup failed", metadata: ["error": "\(error)"])
            return IngressAnswers.page(.serviceUnavailable, "The app is unavailable.")
        }
        switch target {
        case .notServed:
            return IngressAnswers.notFound()
        case .unavailable(let serverID):
            log(serverID, request, status: 503, bytes: 0, since: started)
            return IngressAnswers.page(.serviceUnavailable, "The app is not running.")
        case .app(let serverID, let port):
            let head = ProxyHeaders.request(request.head, client: context.remoteAddress?.ipAddress)
            let answer: (HTTPResponse, BodyPipe)
            do {
                let connection = try await pool.connection(serverID: serverID, port: port)
                answer = try await connection.exchange(head, body: request.body)
            } catch {
                log(serverID, request, status: 502, bytes: 0, since: started)
                return IngressAnswers.page(.badGateway, "The app is not answering.")
            }
            let (response, pipe) = answer
            var headers = ProxyHeaders.response(response.headerFields)
            let length = headers[.contentLength].flatMap(Int.init)
            headers[.contentLength] = nil
            let status = response.status
            let client = context.channel
            let body = ResponseBody(contentLength: length) { writer in
                var bytes = 0
                defer {
                    pipe.cancel()
                    log(serverID, request, status: status.code, bytes: bytes, since: started)
                }
                // Cancelled (the platform is stopping and its grace ran out): a client that
                // stopped reading holds a write forever; closing its connection ends it.
                try await withTaskCancellationHandler {
                    for try await buffer in pipe {
                        bytes += buffer.readableBytes
                        try await writer.write(buffer)
                    }
                } onCancel: {
                    client.close(promise: nil)
                }
                try await writer.finish(nil)
            }
            return Response(status: status, headers: headers, body: body)
        }
    }

    /// One access line in the server's logs (stream `system`, process `ingress`).
    private func log(_ serverID: String, _ request: Request, status: Int, bytes: Int, since: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - since
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let path = String(request.head.path?.prefix(2000) ?? "")
        runtime.logAccess(serverID, "\(request.head.method.rawValue) \(path) \(status) \(String(format: "%.1f", milliseconds)) ms \(bytes) B")
    }
}

/// The answers the ingress gives itself. Not found is one fixed answer, whatever the reason
/// (unknown slug, private project, nothing attached): nobody can tell them apart.
public enum IngressAnswers {
    public static func notFound() -> Response {
        page(.notFound, "Not found.")
    }

    static func page(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status,
                 headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store",
                           HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text + "\n")))
    }
}

/// Headers across the proxy: hop-by-hop ones stay on their hop (RFC 9110 §7.6.1); the app
/// learns who asked and how through X-Forwarded-*, set here and never taken from the client.
enum ProxyHeaders {
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                                        "upgrade", "proxy-authenticate", "proxy-authorization"]

    static func request(_ head: HTTPRequest, client: String?) -> HTTPRequest {
        // The preview grant is the platform's, never the app's.
        var fields = PreviewCookie.strip(strip(head.headerFields))
        for name in ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "forwarded"] {
            fields[HTTPField.Name(name)!] = nil
        }
        if let client { fields[HTTPField.Name("X-Forwarded-For")!] = client }
        fields[HTTPField.Name("X-Forwarded-Proto")!] = "https"
        if let host = head.authority { fields[HTTPField.Name("X-Forwarded-Host")!] = host }
        return HTTPRequest(method: head.method, scheme: nil, authority: head.authority, path: head.path, headerFields: fields)
    }

    static func response(_ fields: HTTPFields) -> HTTPFields {
        strip(fields)
    }

    /// Without the hop-by-hop headers and any the Connection header names.
    static func strip(_ fields: HTTPFields) -> HTTPFields {
        var named = hopByHop
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") { named.insert(token.trimmingCharacters(in: .whitespaces).lowercased()) }
        }
        var kept = HTTPFields()
        for field in fields where !named.contains(field.name.canonicalName) { kept.append(field) }
        return kept
    }
}

/// Builds the ingress in front of the API host's routers (what `Application` is given).
public struct IngressBuilder: HTTPResponderBuilder {
    let router: Router<S4ARequestContext>
    /// `/mcp`: MCP's own protocol (JSON-RPC), not an operation of the OpenAPI contract.
    let mcpRouter: Router<S4ARequestContext>
    /// The dashboard: every path on the API host that is not the API's, MCP's or a probe's.
    let dashboardRouter: Router<S4ARequestContext>
    let appsDomain: String
    let ingress: IngressService
    let previews: PreviewGrants
    let apiURL: String
    let pool: AppConnectionPool
    let runtime: any ContainerRuntime
    let logger: Logger

    public init(router: Router<S4ARequestContext>, mcpRouter: Router<S4ARequestContext>,
                dashboardRouter: Router<S4ARequestContext>, appsDomain: String, ingress: IngressService,
                previews: PreviewGrants, apiURL: String, pool: AppConnectionPool, runtime: any ContainerRuntime,
                logger: Logger) {
        (self.router, self.mcpRouter, self.dashboardRouter) = (router, mcpRouter, dashboardRouter)
        (self.appsDomain, self.ingress, self.previews, self.apiURL) = (appsDomain, ingress, previews, apiURL)
        (self.pool, self.runtime, self.logger) = (pool, runtime, logger)
    }

    // A concrete type, not `some HTTPResponder`: the release build's compiler crashed on the opaque one.
    public func buildResponder() -> IngressResponder<APIHostResponder> {
        IngressResponder(api: APIHostResponder(api: router.buildResponder(), mcp: mcpRouter.buildResponder(),
                                                  dashboard: dashboardRouter.buildResponder()),
                         appsDomain: appsDomain, ingress: ingress, previews: previews, apiURL: apiURL, pool: pool,
                         runtime: runtime, logger: logger)
    }
}

/// The API host: `/mcp` to the MCP router, the API's paths to the contract's router, the rest
/// to the dashboard.
public struct APIHostResponder: HTTPResponder {
    public typealias Context = S4ARequestContext
    let api: RouterResponder<S4ARequestContext>
    let mcp: RouterResponder<S4ARequestContext>
    let dashboard: RouterResponder<S4ARequestContext>

    public func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        if path == "/mcp" { return try await mcp.respond(to: request, context: context) }
        if Self.isDashboards(path) { return try await dashboard.respond(to: request, context: context) }
        return try await api.respond(to: request, context: context)
    }

    /// Whether `path` is the dashboard's: everything on the API host but the API, MCP and probes.
    static func isDashboards(_ path: String) -> Bool {
        !(path.hasPrefix("/v1/") || path == "/v1" || path == "/mcp" || path == "/healthz" || path == "/metrics")
    }
}
