import Foundation
import OpenAPIRuntime
import S4AContract
import S4ADomain

/// Implements the generated `APIProtocol`: decoding and routing are generated from the
/// contract; each method here maps contract types to a domain service call and back.
/// Split by resource across `APIHandler+*.swift`.
struct APIHandler: APIProtocol {
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
    /// Absolute links (an export's download) start with it.
    let apiURL: String
    let drains: LogDrainService
    let documentObject: OpenAPIObjectContainer
    let metrics: MetricsEndpoint

    static let defaultLimit = 50

    init(services: RESTAPI.Services, apiURL: String, documentObject: OpenAPIObjectContainer, metrics: MetricsEndpoint) {
        (accounts, keys, projects, activity, servers, files) =
            (services.accounts, services.keys, services.projects, services.activity, services.servers, services.files)
        (secrets, usage, health, exports, deletion, drains) =
            (services.secrets, services.usage, services.health, services.exports, services.deletion, services.drains)
        self.apiURL = apiURL
        self.documentObject = documentObject
        self.metrics = metrics
    }

    /// Dollars in, micro-dollars out. A string is parsed exactly; a JSON number is accepted
    /// when it has at most six decimals (it arrives as a binary float, so it is checked, never
    /// rounded into money).
    static func money(_ input: Components.Schemas.MoneyInput, field: String) throws -> MicroDollars {
        let text: String
        switch input {
        case .Money(let decimal): text = decimal
        case .case2(let number):
            text = String(format: "%.6f", number)
            guard number.isFinite, abs((Double(text) ?? .nan) - number) < 1e-9 else {
                throw DomainError.invalid(field, "must have at most six decimals")
            }
        }
        guard let value = MicroDollars(decimal: text) else {
            throw DomainError.invalid(field, "must be dollars with at most six decimals, e.g. \"25.00\" or 25")
        }
        return value
    }

    /// `limit` must be 1…200 (the contract's bounds; the generator does not check them).
    static func limit(_ value: Int?) throws -> Int {
        let limit = value ?? defaultLimit
        guard (1...200).contains(limit) else { throw DomainError.invalid("limit", "must be between 1 and 200") }
        return limit
    }
}
