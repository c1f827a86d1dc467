/// A project's page: its URL and visibility, servers with their spend, secrets (names only),
/// uptime and activity.
struct ProjectPage: PageModel {
    struct Info: Sendable {
        var id: String
        var name: String
        var slug: String
        var url: String
        var isPublic: Bool
    }

    struct ServerRow: Sendable {
        var id: String
        var name: String
        var state: String
        var attached: Bool
        var spend: SpendBar
    }

    struct IncidentRow: Sendable {
        var started: String
        var ended: String
        var reason: String
        var open: Bool
    }

    var title: String
    var project: Info
    var servers: [ServerRow]
    var attachable: [Choice]
    var secrets: [SecretRow]
    var events: [EventRow]
    var uptime24h: String
    var uptime30d: String
    var probes24h: Int
    var incidents: [IncidentRow]
    var networks: [Choice]
    // Stored, not computed: templates see stored properties only.
    var hasAttachable: Bool
    var hasIncidents: Bool
}
