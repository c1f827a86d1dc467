/// What an API key may do. A session holds every scope.
public enum Scope: String, CaseIterable, Codable, Sendable, Comparable {
    case projectsRead = "projects:read"
    case projectsWrite = "projects:write"
    case projectsPublish = "projects:publish"
    case serversRead = "servers:read"
    case serversWrite = "servers:write"
    case serversExec = "servers:exec"
    case secretsWrite = "secrets:write"
    case budgetWrite = "budget:write"
    case activityRead = "activity:read"
    case keysWrite = "keys:write"

    public static func < (a: Scope, b: Scope) -> Bool { a.rawValue < b.rawValue }
}

/// What an operation needs from its caller, as declared by `x-s4a-scope` in the API contract.
public enum Requirement: Equatable, Sendable {
    /// No credentials.
    case publicAccess
    /// Any signed-in person or valid key.
    case anyPrincipal
    /// A signed-in person only; no API key.
    case session
    /// The operator: a loopback peer or the operator's token (`/metrics`).
    case `operator`
    /// A capability URL: a one-time token in the path is the credential (export downloads), so
    /// the request carries none; the handler checks the token.
    case link
    case scope(Scope)

    /// Parses the contract's notation: `public`, `any`, `session` or a scope name.
    public init?(contract value: String) {
        switch value {
        case "public": self = .publicAccess
        case "any": self = .anyPrincipal
        case "session": self = .session
        case "operator": self = .operator
        case "link": self = .link
        default:
            guard let scope = Scope(rawValue: value) else { return nil }
            self = .scope(scope)
        }
    }
}
