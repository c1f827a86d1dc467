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
