import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain

extension Pages {
    func addActivity() {
        get("/activity") { visit in
            let project = visit.query("project"), action = visit.query("action")
            async let page = services.activity.list(visit.principal, projectID: project, action: action,
                                                     cursor: visit.query("cursor"), limit: 50)
            async let projects = services.projects.list(visit.principal, cursor: nil, limit: 200)
            var filter: [String] = []
            if let project { filter.append("project_id=" + queryValue(project)) }
            if let action { filter.append("action=" + queryValue(action)) }
            let query = filter.joined(separator: "&")
            async let names = activityNames(visit.principal)
            let next = try await page.nextCursor
            let namer = try await names
            return .view("activity", ActivityPage(
                title: "Activity",
                events: try await page.items.map(namer.row),
                projects: try await projects.items.map { Choice(value: $0.id, label: $0.name, selected: $0.id == project) },
                action: action ?? "",
                next: next.map { cursor in
                    "/activity?" + (project.map { "project=\(queryValue($0))&" } ?? "")
                        + (action.map { "action=\(queryValue($0))&" } ?? "") + "cursor=" + queryValue(cursor)
                },
                csvURL: "/v1/activity/export?format=csv" + (query.isEmpty ? "" : "&" + query),
                jsonlURL: "/v1/activity/export?format=jsonl" + (query.isEmpty ? "" : "&" + query)))
        }
    }
}
