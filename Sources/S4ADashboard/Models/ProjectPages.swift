/// The account's projects and the form for a new one.
struct ProjectsPage: PageModel {
    struct Row: Sendable {
        var id: String
        var name: String
        var url: String
        var isPublic: Bool
    }

    var title: String
    var projects: [Row]
}

/// The confirmation before a project's URL opens to everyone: what will answer there.
struct PublishPage: PageModel {
    /// The server that serves the URL, and how its app is doing.
    struct Attached: Sendable {
        var id: String
        var name: String
        var state: String
        var health: String
        var healthy: Bool
    }

    var title: String
    var id: String
    var name: String
    var url: String
    /// The dashboard's preview link (the owner's view of the private URL).
    var previewPath: String
    var attached: Attached?
}

/// Typing the slug out before a project is deleted.
struct ProjectDeletePage: PageModel {
    var title: String
    var id: String
    var name: String
    var slug: String
    var url: String
}
