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
    let settings: DomainSettings
    let document: ContractDocument
    let documentObject: OpenAPIObjectContainer
    let metrics: MetricsEndpoint

    static let defaultLimit = 50

    /// `limit` must be 1…200 (the contract's bounds; the generator does not check them).
    static func limit(_ value: Int?) throws -> Int {
        let limit = value ?? defaultLimit
        guard (1...200).contains(limit) else { throw DomainError.invalid("limit", "must be between 1 and 200") }
        return limit
    }
}
