import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIRuntime

/// The contract's paths, their methods and the media types each operation's body may have:
/// what the router cannot say by itself when it finds no route for a request.
struct ContractRoutes: Sendable {
    /// Media types (lowercased, no parameters) each operation's body may have, by operation id.
    private(set) var bodyTypes: [String: [String]] = [:]

    private struct Route: Sendable {
        var segments: [String]
        var methods: Set<HTTPRequest.Method>
        /// The last parameter takes the rest of the path (a file's path).
        var greedy: Bool
    }

    private var routes: [Route] = []

    /// `template`: an OpenAPI path such as `/v1/servers/{server_id}`.
    mutating func add(method: String, template: String, operationID: String, bodyTypes: [String]) {
        guard let method = HTTPRequest.Method(method.uppercased()) else { return }
        let segments = template.split(separator: "/").map(String.init)
        self.bodyTypes[operationID] = bodyTypes.map { Self.mediaType($0) }
        if let index = routes.firstIndex(where: { $0.segments == segments }) {
            routes[index].methods.insert(method)
        } else {
            routes.append(Route(segments: segments, methods: [method], greedy: segments.last == "{path}"))
        }
    }

    /// The methods the contract has at `path`; nil when it has no such path.
    func methods(at path: String) -> Set<HTTPRequest.Method>? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        // Literal segments win over parameters (`/v1/account/export` is not `/v1/account/{x}`).
        var best: (route: Route, literals: Int)?
        for route in routes {
            guard let literals = Self.match(route, parts) else { continue }
            if best == nil || literals > best!.literals { best = (route, literals) }
        }
        return best?.route.methods
    }

    private static func match(_ route: Route, _ parts: [String]) -> Int? {
        if route.greedy {
            guard parts.count >= route.segments.count else { return nil }
        } else {
            guard parts.count == route.segments.count else { return nil }
        }
        var literals = 0
        for (index, segment) in route.segments.enumerated() {
            if segment.hasPrefix("{") {
                guard !parts[index].isEmpty else { return nil }
            } else {
                guard segment == parts[index] else { return nil }
                literals += 1
            }
        }
        return literals
    }

    static func mediaType(_ value: String) -> String {
        value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }
}

/// Answers what the router alone would call "not found": a path the contract has, asked with
/// a method it does not take (405, with `Allow`, whoever asks: the contract is public). HEAD
/// is such a method: the router has resolved the route before middleware runs, so it cannot
/// be served as GET here, and the API has no use for it.
struct ContractRoutingMiddleware<Context: RequestContext>: RouterMiddleware {
    let routes: ContractRoutes

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let methods = routes.methods(at: request.uri.path) else { return try await next(request, context) }
        guard methods.contains(request.method) else {
            let allow = methods.map(\.rawValue).sorted().joined(separator: ", ")
            throw HTTPError(.methodNotAllowed, headers: [.allow: allow])
        }
        return try await next(request, context)
    }
}

/// 415 for a body of a media type its operation does not take, after authentication (an
/// unauthenticated caller learns 401 first, as for every other check). A body sent to an
/// operation that takes none is left alone, as before.
struct BodyTypeMiddleware: ServerMiddleware {
    let routes: ContractRoutes

    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        if let type = request.headerFields[.contentType], let declared = routes.bodyTypes[operationID], !declared.isEmpty {
            let media = ContractRoutes.mediaType(type)
            guard declared.contains(where: { Self.accepts($0, media) }) else {
                throw HTTPError(.unsupportedMediaType, message: "This operation takes \(declared.joined(separator: " or ")), not \(media).")
            }
        }
        return try await next(request, body, metadata)
    }

    /// `declared` may be a range such as `*/*` or `text/*`.
    private static func accepts(_ declared: String, _ media: String) -> Bool {
        if declared == media || declared == "*/*" { return true }
        if declared.hasSuffix("/*") { return media.hasPrefix(declared.dropLast()) }
        return false
    }
}
