import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOSSL
import OpenAPIHummingbird
import OpenAPIRuntime
import S4AACME
import S4AContract
import S4ADashboard
import S4ADomain
import S4AMCP
import S4ARuntime
import S4AStore
import S4ATLS
import ServiceLifecycle

/// The control plane: the store, the services and the HTTP surface over them.
public final class ControlPlane: Sendable {
    public let options: ServeOptions
    public let store: SQLStore
    public let environment: DomainEnvironment
    /// Signed checkpoints of every activity chain, outside the database.
    public let anchor: AuditAnchor
    public let runtime: any ContainerRuntime
    let handler: APIHandler
    /// Kept-alive connections from the ingress to apps inside servers.
    let appConnections: AppConnectionPool
    let document: ContractDocument
    let logger: Logger
    /// Certificates the HTTPS listener picks by SNI (ACME's), over the default one.
    public let sni = SNICertificates()
    /// HTTP-01 challenges pending for the ACME client, answered on the plain-HTTP listener.
    public let challenges = HTTP01Challenges()
    /// The ACME client, when `--acme-directory` is set.
    let acme: ACMEClient?
    /// `/mcp`: the MCP server over Streamable HTTP, calling this API in process with each caller's key.
    let mcp: AgentMCPHTTPEndpoint
    /// The pages for people, under `/`.
    let dashboard: Dashboard
    /// Every domain service, built once here.
    let services: Services
    /// Log drains' HTTPS: checks endpoints at creation and at every connection.
    let drainTransport: HTTPSDrainTransport

    /// `runtime`: the isolation runtime; by default runc under `<data-dir>/runtime`.
    public init(options: ServeOptions, logger: Logger = Logger(label: "s4a"), runtime: (any ContainerRuntime)? = nil,
                now: @escaping @Sendable () -> Date = { Date() }) async throws {
        // Traversable, not listable: runc mounts each server's root below it from inside the
        // server's user namespace. Everything secret in it is 0600 or in a 0700 directory.
        try FileManager.default.createDirectory(atPath: options.dataDirectory, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o711], ofItemAtPath: options.dataDirectory)
        if options.databaseURL == nil, !FileManager.default.fileExists(atPath: options.sqlitePath) {
            // SQLite gives its -wal and -shm files the database file's mode.
            FileManager.default.createFile(atPath: options.sqlitePath, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        self.options = options
        self.logger = logger
        if let url = options.acmeDirectoryURL {
            let roots = try options.acmeCACertificatePath.map { try String(contentsOfFile: $0, encoding: .utf8) }
            acme = ACMEClient(directoryURL: url, trustRootsPEM: roots,
                              accountKeyPath: CertificateDirectory(directory: options.acmeDirectory).accountKeyPath,
                              contact: options.acmeEmail, challenges: challenges, logger: logger)
        } else {
            acme = nil
        }
        document = try ContractDocument.load()
        mcp = AgentMCPHTTPEndpoint(apiURL: URL(string: options.apiURL)!)
        let object = try JSONDecoder().decode(OpenAPIObjectContainer.self, from: document.json)
        self.runtime = try runtime ?? RuncRuntime(directory: URL(fileURLWithPath: options.dataDirectory).appendingPathComponent("runtime"),
                                                  logger: logger)
        let master = try MasterKeyFile.load(options, logger: logger)
        let auditKeys = try AuditKeys(master: master)
        store = try await SQLStore.open(url: options.databaseURL, sqlitePath: options.sqlitePath, auditKeys: auditKeys,
                                        logger: logger)
        let keyring: ProjectKeyDirectory
        do {
            try await SecretService.checkMasterKey(master, store: store)
            keyring = try ProjectKeyDirectory(path: options.projectKeyDirectory)
            let upgraded = try await SecretService.upgradeDataKeys(store: store, master: master, keyring: keyring)
            if upgraded > 0 {
                logger.notice("gave project data keys shred keys", metadata: ["projects": "\(upgraded)",
                                                                             "directory": "\(keyring.path)"])
            }
        } catch {
            await store.close()
            throw error
        }
        environment = DomainEnvironment(store: store, settings: options.domainSettings, now: now)
        drainTransport = HTTPSDrainTransport(extraRootsPEMFile: options.drainCAFile, allowPrivateNetworks: options.drainAllowPrivate)
        anchor = AuditAnchor(store: store, keys: auditKeys, file: CheckpointFile.inDataDirectory(options.dataDirectory),
                             now: now)
        appConnections = AppConnectionPool(runtime: self.runtime)
        // Spool files of exports a stop cut short.
        try? FileManager.default.removeItem(atPath: options.exportSpoolDirectory)
        services = await Services(environment: environment, runtime: self.runtime, master: master, keyring: keyring, anchor: anchor,
                                  options: options, drainTransport: drainTransport)
        handler = APIHandler(services: services, apiURL: options.apiURL, documentObject: object, metrics: .shared)
        dashboard = try await Dashboard(
            services: services.dashboard,
            trustedOrigins: [options.apiURL, "https://\(options.apiHost)"], apiURL: options.apiURL,
            caCertificatePath: options.tlsCertificatePath == nil ? LocalCA(directory: options.tlsDirectory).caCertificatePath : nil)
    }

    /// Every route, all generated from the contract, behind the shared middleware.
    public func router() throws -> Router<S4ARequestContext> {
        let router = Router(context: S4ARequestContext.self)
        // Metrics outermost, so they count the answers as sent (problems included).
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: RequestIntakeMiddleware(maxBodyBytes: options.maxBodyBytes, maxUploadBytes: FileService.maxBytes))
        router.add(middleware: ContractRoutingMiddleware(routes: document.routes))
        let middlewares: [any ServerMiddleware] = [
            AuthMiddleware(requirements: document.requirements, authenticator: services.authenticator,
                           trustedOrigins: trustedOrigins, operatorToken: options.metricsToken),
            BodyTypeMiddleware(routes: document.routes),
            NullFieldMiddleware(maxBodyBytes: options.maxBodyBytes),
            IdempotencyMiddleware(store: store, now: environment.now, maxBodyBytes: options.maxBodyBytes),
            VerbatimHeaderMiddleware(),
        ]
        try handler.registerHandlers(on: router, serverURL: URL(string: "/")!, configuration: .s4a,
                                     middlewares: middlewares)
        return router
    }

    /// `/mcp`: MCP over Streamable HTTP, beside the contract's routes (MCP is its own
    /// JSON-RPC protocol, described by its tools, not by the OpenAPI document), behind the
    /// same metrics, problem and body-limit middleware.
    public func mcpRouter() throws -> Router<S4ARequestContext> {
        let router = Router(context: S4ARequestContext.self)
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: RequestIntakeMiddleware(maxBodyBytes: options.maxBodyBytes, maxUploadBytes: options.maxBodyBytes))
        MCPRoute(endpoint: mcp, authenticator: services.authenticator, api: try self.router().buildResponder(),
                 apiURL: URL(string: options.apiURL)!, maxBodyBytes: options.maxBodyBytes)
            .add(to: router)
        return router
    }

    /// The listener's front: project URLs to their apps, everything else to the API router.
    public func ingress() throws -> IngressBuilder {
        IngressBuilder(router: try router(), mcpRouter: try mcpRouter(), dashboardRouter: dashboard.router(),
                       appsDomain: options.appsDomain, ingress: services.ingress, previews: services.previews,
                       apiURL: options.apiURL, pool: appConnections, runtime: runtime, logger: logger)
    }

    /// Origins a cookie-authenticated browser request may come from (CSRF defence).
    var trustedOrigins: Set<String> { dashboard.csrfOrigins }

    /// The WebSocket routes (the shell), tried before the HTTP router on upgrade requests.
    func webSocketRouter() -> Router<ShellRequestContext> {
        let router = ShellRoute(servers: services.servers, authenticator: services.authenticator,
                                trustedOrigins: trustedOrigins, appsDomain: options.appsDomain).router()
        AppWebSocketRoute(appsDomain: options.appsDomain, ingress: services.ingress, previews: services.previews,
                          runtime: runtime)
            .add(to: router)
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

    /// How long a request head may take (see `HeaderReadDeadline`).
    var headerTimeout: TimeAmount { .milliseconds(Int64(options.headerTimeoutSeconds * 1000)) }

    /// HTTP/1.1 on every listener: head deadline, idle timeout, header bounds.
    var http1Configuration: HTTP1Channel.Configuration {
        let headerTimeout = self.headerTimeout
        return .init(additionalChannelHandlers: [HeaderReadDeadline(limit: headerTimeout)],
                     idleTimeout: .seconds(60),  // idle keep-alive connections, stalled handshakes
                     httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 << 10, maxHeaderListSize: 64 << 10,
                                                     maxHeaderFieldCount: 200))
    }

    /// The HTTPS application; `runService()` on it serves until SIGTERM/SIGINT, then drains.
    /// `onRunning` receives the bound port (useful with port 0).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let (certificate, key) = try tlsCredentials()
        // With ACME, a handshake naming a host that has an ACME certificate gets it.
        let tls = try ServerTLS.configuration(certificatePath: certificate, keyPath: key, sni: acme == nil ? nil : sni)
        let headerTimeout = self.headerTimeout
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: http1Configuration,
            ws: .init(maxFrameSize: ShellRoute.maxMessageBytes, autoPing: .enabled(timePeriod: .seconds(30))))
        let webSockets = webSocketRouter().buildResponder()
        let http = HTTPServerBuilder { responder in
            FirstHeadDeadlineChannel(
                base: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSockets, configuration: configuration),
                limit: headerTimeout)
        }
        return Application(
            router: try ingress(),
            server: try .tls(http, tlsConfiguration: tls),
            configuration: .init(address: .hostname(options.listenHost, port: options.listenPort), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Adopts running servers and clears what belongs to none; call before serving.
    public func reconcile() async throws {
        // Deletions a crash interrupted go first, so their servers are destroyed, not adopted.
        try await Self.finishDeletions(services.deletion, logger: logger)
        let (adopted, failed, removed) = try await services.servers.reconcile()
        logger.info("reconciled servers", metadata: ["adopted": "\(adopted)", "failed": "\(failed)",
                                                     "removed": "\(removed.joined(separator: ", "))"])
    }

    /// Finishes account deletions left unfinished (at start, and every minute after).
    static func finishDeletions(_ deletion: AccountDeletion, logger: Logger) async throws {
        let (finished, failures) = try await deletion.finishPending()
        if finished > 0 { logger.notice("finished account deletions", metadata: ["accounts": "\(finished)"]) }
        for failure in failures { logger.error("an account deletion could not finish yet", metadata: ["error": "\(failure)"]) }
    }

    public func shutdown() async { await store.close() }
}
