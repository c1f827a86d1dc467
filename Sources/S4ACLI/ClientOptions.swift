import ArgumentParser
import Foundation
import NIOCore
import S4AClient

/// Options every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The API URL (S4A_API_URL; default: the one `s4a login` saved).")
    var apiURL: String?

    @Option(name: .long, help: "A CA certificate (PEM) to trust, e.g. <data-dir>/tls/ca.pem (S4A_CA_CERT).")
    var caCert: String?

    @Flag(name: .long, help: "Print JSON for machines instead of tables.")
    var json = false

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    func resolvedURL(_ config: CLIConfig?) throws -> URL {
        guard let text = apiURL ?? environment["S4A_API_URL"] ?? config?.apiURL, let url = URL(string: text) else {
            throw CommandFailure(message: "No API URL: pass --api-url, set S4A_API_URL or run `s4a login`.")
        }
        return url
    }

    func resolvedCA(_ config: CLIConfig?) -> String? {
        caCert ?? environment["S4A_CA_CERT"] ?? config?.caCert
    }

    /// A connection with the caller's credentials: S4A_API_KEY first, then the saved session.
    /// `timeout`: how long one call may take (`s4a mcp` waits for commands of up to an hour).
    func connect(authenticated: Bool = true, token override: String? = nil,
                 timeout: TimeAmount = .minutes(5)) throws -> APIConnection {
        let config = CLIConfig.load()
        let token = authenticated ? (override ?? environment["S4A_API_KEY"] ?? config?.token) : nil
        if authenticated, token == nil {
            throw CommandFailure(message: "Not signed in: set S4A_API_KEY or run `s4a login`.")
        }
        return try APIConnection(baseURL: try resolvedURL(config), token: token, caCertificatePath: resolvedCA(config),
                                 timeout: timeout)
    }
}

/// Runs `body` with a connection and closes it afterwards, whatever happens.
func withConnection<T>(_ options: ClientOptions, authenticated: Bool = true, token: String? = nil,
                       _ body: (APIConnection) async throws -> T) async throws -> T {
    try await options.connect(authenticated: authenticated, token: token).use(body)
}
