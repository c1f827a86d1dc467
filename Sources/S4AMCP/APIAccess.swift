import Foundation
import MCP
import NIOCore
import S4AClient

/// Where a tool call gets its connection to the API, carrying the caller's own credentials:
/// the API applies the key's scopes, project restriction and budget ceiling unchanged.
public protocol APIAccess: Sendable {
    func withConnection<T: Sendable>(_ body: @Sendable (APIConnection) async throws -> T) async throws -> T
}

/// One connection for the whole session (`s4a mcp` on stdio: the key from S4A_API_KEY).
public struct FixedAPIAccess: APIAccess {
    public let connection: APIConnection

    public init(connection: APIConnection) { self.connection = connection }

    public func withConnection<T: Sendable>(_ body: @Sendable (APIConnection) async throws -> T) async throws -> T {
        try await body(connection)
    }
}

/// A connection per request with the bearer token of the HTTP request that carried it
/// (`/mcp` over Streamable HTTP): each caller's calls are made with that caller's key.
public struct BearerAPIAccess: APIAccess {
    public let baseURL: URL
    public let caCertificatePath: String?

    public init(baseURL: URL, caCertificatePath: String?) {
        self.baseURL = baseURL
        self.caCertificatePath = caCertificatePath
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (APIConnection) async throws -> T) async throws -> T {
        guard let header = Server.currentHandlerContext?.httpContext?.header("Authorization"),
              header.lowercased().hasPrefix("bearer "), header.count > 7 else {
            throw ToolInputError("No API key: send it as `Authorization: Bearer s4a_…`.")
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let connection = try APIConnection(baseURL: baseURL, token: token, caCertificatePath: caCertificatePath,
                                           timeout: .minutes(62))
        return try await connection.use(body)
    }
}
