import HTTPTypes

/// Where a browser request that rides the session cookie may come from: the origins the API
/// host is served at. A cookie goes along on requests other sites make; a bearer header never
/// does, so only cookie-carrying requests are asked. One policy for the dashboard's forms, the
/// API's cookie-authenticated writes and the shell's WebSocket, each by what its requests can show.
public struct OriginPolicy: Sendable {
    public let trustedOrigins: Set<String>

    public init(trustedOrigins: Set<String>) { self.trustedOrigins = trustedOrigins }

    static let fetchSite = HTTPField.Name("Sec-Fetch-Site")!

    /// A write to the API (not GET, HEAD or OPTIONS) authenticated by the cookie: its `Origin`
    /// must be ours; without one, the browser must say `Sec-Fetch-Site: same-origin`. Neither
    /// header: refused (a script holds a bearer token instead).
    public func allowsCookieWrite(_ fields: HTTPFields) -> Bool {
        fields[.origin].map(trustedOrigins.contains) ?? (fields[Self.fetchSite] == "same-origin")
    }

    /// A WebSocket upgrade authenticated by the cookie: browsers send `Origin` on every
    /// WebSocket, so it must be there and ours.
    public func allowsCookieUpgrade(_ fields: HTTPFields) -> Bool {
        fields[.origin].map(trustedOrigins.contains) ?? false
    }

    /// A dashboard form: refused when `Origin` names another site or `Sec-Fetch-Site` says
    /// cross-site; an old browser that sends neither passes on to the CSRF token, which decides.
    public func allowsForm(_ fields: HTTPFields) -> Bool {
        if let origin = fields[.origin], !trustedOrigins.contains(origin) { return false }
        return fields[Self.fetchSite] != "cross-site"
    }
}
