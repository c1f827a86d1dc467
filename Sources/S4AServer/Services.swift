import Foundation
import S4AAPI
import S4ADashboard
import S4ADomain

/// Every domain service, built once, in the composition root (`ControlPlane.init`), over one
/// store, runtime and master key. The API handler, the dashboard, the shell and ingress routes
/// and the background jobs each take from it only what they use.
struct Services: Sendable {
    let accounts: AccountService
    let keys: APIKeyService
    let projects: ProjectService
    let activity: ActivityService
    let servers: ServerService
    let files: FileService
    let secrets: SecretService
    let usage: UsageService
    let health: HealthService
    let exports: ExportService
    let deletion: AccountDeletion
    let drains: LogDrainService
    let previews: PreviewGrants
    let authenticator: Authenticator
    let ingress: IngressService

    init(environment: DomainEnvironment, runtime: any ContainerRuntime, master: MasterKey, keyring: ProjectKeyDirectory,
         anchor: AuditAnchor, options: ServeOptions, drainTransport: any DrainTransport) async {
        secrets = SecretService(env: environment, master: master, keyring: keyring)
        let budgets = BudgetService(env: environment, runtime: runtime, settings: options.budgetSettings)
        servers = ServerService(env: environment, runtime: runtime, secrets: secrets, budgets: budgets)
        accounts = await AccountService(env: environment)
        keys = APIKeyService(env: environment)
        projects = ProjectService(env: environment)
        activity = ActivityService(env: environment, anchor: anchor)
        files = FileService(servers: servers)
        usage = UsageService(env: environment, runtime: runtime, card: options.rateCard)
        health = HealthService(env: environment, runtime: runtime, servers: servers)
        exports = ExportService(env: environment, accounts: accounts, runtime: runtime, spoolDirectory: options.exportSpoolDirectory)
        deletion = AccountDeletion(env: environment, accounts: accounts, secrets: secrets, servers: servers, anchor: anchor)
        drains = LogDrainService(env: environment, secrets: secrets, transport: drainTransport)
        previews = PreviewGrants(master: master, env: environment)
        authenticator = Authenticator(env: environment)
        ingress = IngressService(env: environment)
    }

    /// What the API's handlers use.
    var api: RESTAPI.Services {
        .init(accounts: accounts, keys: keys, projects: projects, activity: activity, servers: servers, files: files,
              secrets: secrets, usage: usage, health: health, exports: exports, deletion: deletion, drains: drains)
    }

    /// What the dashboard's pages use.
    var dashboard: Dashboard.Services {
        .init(accounts: accounts, keys: keys, projects: projects, activity: activity, servers: servers, files: files,
              secrets: secrets, usage: usage, health: health, exports: exports, deletion: deletion,
              authenticator: authenticator, previews: previews)
    }
}
