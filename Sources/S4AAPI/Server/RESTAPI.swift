import Foundation
import Hummingbird
import OpenAPIHummingbird
import OpenAPIRuntime
import S4AContract
import S4ADomain
import S4AWeb

/// The REST API under `/v1`, as the composition root builds and serves it: the contract's
/// handler over the domain services it uses, and its router.
public struct RESTAPI: Sendable {
    /// The domain services the API's operations use, built once by the composition root.
    public struct Services: Sendable {
        public var accounts: AccountService
        public var keys: APIKeyService
        public var projects: ProjectService
        public var activity: ActivityService
        public var servers: ServerService
        public var files: FileService
        public var secrets: SecretService
        public var usage: UsageService
        public var health: HealthService
        public var exports: ExportService
        public var deletion: AccountDeletion
        public var drains: LogDrainService

        public init(accounts: AccountService, keys: APIKeyService, projects: ProjectService, activity: ActivityService,
                    servers: ServerService, files: FileService, secrets: SecretService, usage: UsageService,
                    health: HealthService, exports: ExportService, deletion: AccountDeletion, drains: LogDrainService) {
            (self.accounts, self.keys, self.projects, self.activity, self.servers, self.files) =
                (accounts, keys, projects, activity, servers, files)
            (self.secrets, self.usage, self.health, self.exports, self.deletion, self.drains) =
                (secrets, usage, health, exports, deletion, drains)
        }
    }

    let handler: APIHandler

    /// `apiURL`: where absolute links (an export's download) start; `documentObject`: the
    /// contract, served at `/v1/openapi.json`.
    public init(services: Services, apiURL: String, documentObject: OpenAPIObjectContainer) {
        handler = APIHandler(services: services, apiURL: apiURL, documentObject: documentObject, metrics: .shared)
    }

    /// Every route of the contract, behind the API's middleware: metrics outermost (so they
    /// count the answers as sent, problems included), problem+json, body bounds, 405 and 415 by
    /// the contract; then, per operation, authentication and the contract's `x-s4a-scope` (deny
    /// by default), the body's media type, fields sent as null, `Idempotency-Key` and verbatim
    /// headers.
    ///
    /// `origins`: where a cookie-authenticated browser request may come from (CSRF);
    /// `operatorToken`: what lets off-host scrapers call `operator` operations (`/metrics`).
    public func router(document: ContractDocument, authenticator: Authenticator, origins: OriginPolicy,
                       operatorToken: String?, store: any Store, now: @escaping @Sendable () -> Date,
                       maxBodyBytes: Int) throws -> Router<S4ARequestContext> {
        let router = Router(context: S4ARequestContext.self)
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: RequestIntakeMiddleware(maxBodyBytes: maxBodyBytes, maxUploadBytes: FileService.maxBytes))
        router.add(middleware: ContractRoutingMiddleware(routes: document.routes))
        let middlewares: [any ServerMiddleware] = [
            AuthMiddleware(requirements: document.requirements, authenticator: authenticator,
                           origins: origins, operatorToken: operatorToken),
            BodyTypeMiddleware(routes: document.routes),
            NullFieldMiddleware(maxBodyBytes: maxBodyBytes),
            IdempotencyMiddleware(store: store, now: now, maxBodyBytes: maxBodyBytes, principal: { RequestScope.principal }),
            VerbatimHeaderMiddleware(),
        ]
        try handler.registerHandlers(on: router, serverURL: URL(string: "/")!, configuration: .s4a, middlewares: middlewares)
        return router
    }
}
