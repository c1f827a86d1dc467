import Foundation
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL, the shared store for several control-plane replicas.
final class PostgresEngine: SQLEngine, @unchecked Sendable {
    let kind = SQLEngineKind.postgres
    private let client: PostgresClient
    private let runner: Task<Void, Never>

    init(url: String, logger: Logger) throws {
        let configuration = try Self.configuration(from: url)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        // The client's connection pool lives as long as this engine.
        self.runner = Task { await client.run() }
    }

    /// `postgres://user:password@host:port/database?sslmode=disable|require`
    static func configuration(from text: String) throws -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""),
              let host = url.host, !host.isEmpty else {
            throw StoreError.badURL("expected postgres://user:password@host:port/database")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        let sslmode = url.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslmode {
        case "disable": tls = .disable
        case "require", "verify-full": tls = .require(.makeClientConfiguration())
        default: tls = .prefer(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: url.port ?? 5432, username: url.user?.removingPercentEncoding ?? "postgres",
            password: url.password?.removingPercentEncoding, database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = 16
        return configuration
    }

    func withReader<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in try await body(connection.sql()) }
    }

    func withWriter<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in try await body(connection.sql()) }
    }

    func isUniqueViolation(_ error: any Error) -> Bool {
        (error as? PSQLError)?.serverInfo?[.sqlState] == "23505"
    }

    /// Each query is parsed against the current schema.
    func schemaChanged() async throws {}

    func close() async {
        runner.cancel()
        _ = await runner.value
    }
}

public enum StoreError: Error, CustomStringConvertible {
    case badURL(String)
    case corrupt(String)

    public var description: String {
        switch self {
        case .badURL(let detail): "bad database URL: \(detail)"
        case .corrupt(let detail): "unexpected data in the store: \(detail)"
        }
    }
}
