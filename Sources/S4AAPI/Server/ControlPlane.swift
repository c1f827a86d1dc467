import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOSSL
import OpenAPIHummingbird
import OpenAPIRuntime
import S4AContract
import S4ADomain
import S4AStore
import S4ATLS
import ServiceLifecycle

/// The control plane: the store, the services and the HTTP surface over them.
public final class ControlPlane: Sendable {
    public let options: ServeOptions
    public let store: SQLStore
    public let environment: DomainEnvironment
    let handler: APIHandler
    let document: ContractDocument
    let logger: Logger

    public init(options: ServeOptions, logger: Logger = Logger(label: "s4a"),
                now: @escaping @Sendable () -> Date = { Date() }) async throws {
        try FileManager.default.createDirectory(atPath: options.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        self.options = options
        self.logger = logger
        document = try ContractDocument.load()
        let object = try JSONDecoder().decode(OpenAPIObjectContainer.self, from: document.json)
        store = try await SQLStore.open(url: options.databaseURL, sqlitePath: options.sqlitePath, logger: logger)
        environment = DomainEnvironment(store: store, settings: options.domainSettings, now: now)
        handler = APIHandler(
            accounts: await AccountService(env: environment), keys: APIKeyService(env: environment),
            projects: ProjectService(env: environment), activity: ActivityService(env: environment),
            settings: environment.settings, document: document, documentObject: object, metrics: .shared)
    }

    /// Every route, all generated from the contract, behind the shared middleware.
    public func router() throws -> Router<S4ARequestContext> {
        let router = Router(context: S4ARequestContext.self)
        // Metrics outermost, so they count the answers as sent (problems included).
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: RequestIntakeMiddleware(maxBodyBytes: options.maxBodyBytes))
        let origins: Set<String> = [options.apiURL, "https://\(options.apiHost)"]
        let middlewares: [any ServerMiddleware] = [
            AuthMiddleware(requirements: document.requirements, authenticator: Authenticator(env: environment),
                           trustedOrigins: origins, operatorToken: options.metricsToken),
            IdempotencyMiddleware(store: store, now: environment.now, maxBodyBytes: options.maxBodyBytes),
            CookieHeaderMiddleware(),
        ]
        try handler.registerHandlers(on: router, serverURL: URL(string: "/")!, configuration: .s4a,
                                     middlewares: middlewares)
        return router
    }

    /// The TLS certificate and key to serve: the operator's, or the local CA's.
    public func tlsCredentials() throws -> (certificate: String, key: String) {
        if let certificate = options.tlsCertificatePath, let key = options.tlsKeyPath { return (certificate, key) }
        let ca = LocalCA(directory: options.tlsDirectory)
        let names = [options.apiHost, "*.\(options.appsDomain)", options.appsDomain, "localhost", "127.0.0.1", "::1"]
        var unique: [String] = []
        for name in names where !unique.contains(name) { unique.append(name) }
        return try ca.serverCredentials(hostnames: unique)
    }

    public var caCertificatePath: String? {
        options.tlsCertificatePath == nil ? LocalCA(directory: options.tlsDirectory).caCertificatePath : nil
    }

    /// The HTTPS application; `runService()` on it serves until SIGTERM/SIGINT, then drains.
    /// `onRunning` receives the bound port (useful with port 0).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let (certificate, key) = try tlsCredentials()
        let tls = try ServerTLS.configuration(certificatePath: certificate, keyPath: key)
        return Application(
            router: try router(),
            // Idle keep-alive connections (and stalled handshakes) close after a minute.
            server: try .tls(.http1(configuration: .init(idleTimeout: .seconds(60))), tlsConfiguration: tls),
            configuration: .init(address: .hostname(options.listenHost, port: options.listenPort), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    public func shutdown() async { await store.close() }
}
