import Foundation
import Hummingbird
import Mustache
import S4ADomain
import S4AWeb

/// The dashboard: server-rendered pages for people under `/` on the API host, over the same
/// domain services as the API, signed in with the API's session cookie. Pages work without
/// script; only live logs and the token's copy button use a little, served as files.
public struct Dashboard: Sendable {
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
        public var authenticator: Authenticator
        public var previews: PreviewGrants

        public init(accounts: AccountService, keys: APIKeyService, projects: ProjectService, activity: ActivityService,
                    servers: ServerService, files: FileService, secrets: SecretService, usage: UsageService,
                    health: HealthService, exports: ExportService, deletion: AccountDeletion, authenticator: Authenticator,
                    previews: PreviewGrants) {
            self.accounts = accounts
            self.keys = keys
            self.projects = projects
            self.activity = activity
            self.servers = servers
            self.files = files
            self.secrets = secrets
            self.usage = usage
            self.health = health
            self.exports = exports
            self.deletion = deletion
            self.authenticator = authenticator
            self.previews = previews
        }
    }

    let services: Services
    let views: Views
    let csrf: CSRFGuard
    let staticFiles: StaticFiles
    /// What a client of this control plane sets (shown beside a new key): its API URL and,
    /// with the local CA, the CA certificate's path.
    let client: ClientSettings
    /// `origins`: where the dashboard is served from (forms must come from there; the API and
    /// the shell ask the same policy of cookie-authenticated requests).
    public init(services: Services, origins: OriginPolicy, apiURL: String? = nil,
                caCertificatePath: String? = nil) async throws {
        guard let resources = Bundle.module.resourceURL else { throw CocoaError(.fileNoSuchFile) }
        self.services = services
        client = ClientSettings(apiURL: apiURL ?? origins.trustedOrigins.sorted().first ?? "https://localhost:8443",
                                caCertificatePath: caCertificatePath)
        views = Views(library: try await MustacheLibrary(directory: resources.appendingPathComponent("Templates").path))
        csrf = CSRFGuard(origins: origins)
        staticFiles = try StaticFiles(directory: resources.appendingPathComponent("Static"))
    }

    public func router<Context: RemoteAddressRequestContext>(context: Context.Type = Context.self) -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: SecurityHeaders<Context>())
        staticFiles.add(to: router)
        let pages = Pages<Context>(dashboard: self, router: router)
        pages.addAuth()
        pages.addProjects()
        pages.addPreview()
        pages.addServers()
        pages.addApp()
        pages.addFiles()
        pages.addKeys()
        pages.addActivity()
        pages.addAccount()
        return router
    }
}
