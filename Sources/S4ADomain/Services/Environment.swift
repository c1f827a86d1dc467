import Foundation

/// Settings the services share; the server fills them from its flags.
public struct DomainSettings: Sendable {
    public var bcryptCost: UInt8 = 12
    public var signupOpen = true
    public var sessionLifetime: TimeInterval = 7 * 24 * 3600
    public var loginWindow: TimeInterval = 15 * 60
    public var maxLoginFailures = 5
    /// The public URL of a slug, e.g. `https://<slug>.apps.localhost`.
    public var projectURL: @Sendable (String) -> String = { "https://\($0).apps.localhost" }
    public init() {}
}

/// What every service needs: the store, the time and the password hasher.
public struct DomainEnvironment: Sendable {
    public var store: any Store
    public var settings: DomainSettings
    public var now: @Sendable () -> Date
    public var hasher: any PasswordHasher

    public init(store: any Store, settings: DomainSettings, now: @escaping @Sendable () -> Date = { Date() },
                hasher: (any PasswordHasher)? = nil) {
        self.store = store
        self.settings = settings
        self.now = now
        self.hasher = hasher ?? BcryptHasher(cost: settings.bcryptCost)
    }
}
