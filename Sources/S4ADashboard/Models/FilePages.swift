/// A directory of a server's disk.
struct FilesPage: PageModel {
    struct Entry: Sendable {
        var name: String
        var path: String
        var pathQuery: String
        var isDirectory: Bool
        var kind: String
        var size: String
        var modified: String
    }

    var title: String
    var serverID: String
    var serverName: String
    var path: String
    /// The parent directory's query value; nil at `/`.
    var parentQuery: String?
    var entries: [Entry]
}

/// One file of a server's disk: its text, or a download for anything else.
struct FilePage: PageModel {
    var title: String
    var serverID: String
    var path: String
    var pathQuery: String
    var size: String
    var parent: String
    var parentQuery: String
    var text: String?
    var binary: Bool
}

/// Pages about one server by name: the terminal, the delete confirmation.
struct ServerNamePage: PageModel {
    var title: String
    var id: String
    var name: String
}
