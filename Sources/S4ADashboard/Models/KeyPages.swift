/// The keys page: every key with what it may do, and the form for a new one.
struct KeysPage: PageModel {
    struct Row: Sendable {
        var id: String
        var name: String
        var prefix: String
        var scopes: String
        var projects: String
        /// Per-server ceiling, total and server count, as a person reads them ("none" if unbounded).
        var limits: String
        var created: String
        var lastUsed: String
        var expires: String
        var revoked: Bool
    }

    struct ScopeChoice: Sendable {
        var name: String
        var isDefault: Bool
    }

    var title: String
    var scopes: [ScopeChoice]
    var projects: [Choice]
    var keys: [Row]
}

/// A new key's token, shown this once, with a client configuration ready to paste.
struct KeyCreatedPage: PageModel {
    var title: String
    var name: String
    var token: String
    var scopes: String
    var mcpConfiguration: String
    var environment: String
}
