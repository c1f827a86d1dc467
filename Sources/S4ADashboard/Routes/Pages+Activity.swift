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
            let next = try await page.nextCursor
            return .page("activity", [
                "title": "Activity",
                "events": try await page.items.map(eventRow),
                "projects": try await projects.items.map { ["id": $0.id, "name": $0.name, "selected": $0.id == project] },
                "action": action ?? "",
                "next": next.map { cursor in
                    "/activity?" + (project.map { "project=\(queryValue($0))&" } ?? "")
                        + (action.map { "action=\(queryValue($0))&" } ?? "") + "cursor=" + queryValue(cursor)
                } as Any,
                "csv_url": "/v1/activity/export?format=csv" + (query.isEmpty ? "" : "&" + query),
                "jsonl_url": "/v1/activity/export?format=jsonl" + (query.isEmpty ? "" : "&" + query),
            ])
        }
    }
}
