/// The account's activity, filterable by project and action, with its downloads.
struct ActivityPage: PageModel {
    var title: String
    var events: [EventRow]
    var projects: [Choice]
    var action: String
    var next: String?
    var csvURL: String
    var jsonlURL: String
}

/// One activity event, with the names of who and what beside their ids.
struct EventRow: Sendable {
    var at: String
    var action: String
    var actor: String
    var actorID: String?
    var target: String
    var targetID: String
    var details: String
}
