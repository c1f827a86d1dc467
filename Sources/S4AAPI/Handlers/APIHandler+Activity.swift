import Foundation
import OpenAPIRuntime
import S4AContract
import S4ADomain

extension APIHandler {
    func listActivity(_ input: Operations.ListActivity.Input) async throws -> Operations.ListActivity.Output {
        let page = try await activity.list(try RequestScope.requirePrincipal(), projectID: input.query.projectId,
                                           action: input.query.action, cursor: input.query.cursor,
                                           limit: try Self.limit(input.query.limit))
        return .ok(.init(body: .json(.init(items: page.items.map(Self.contract), nextCursor: page.nextCursor))))
    }

    /// Streams the export page by page: rows are written as the store yields them.
    func exportActivity(_ input: Operations.ExportActivity.Input) async throws -> Operations.ExportActivity.Output {
        let format = ActivityExport.Format(rawValue: (input.query.format ?? .jsonl).rawValue) ?? .jsonl
        let chunks = try activity.export(try RequestScope.requirePrincipal(), format: format, projectID: input.query.projectId,
                                         action: input.query.action, since: input.query.since,
                                         until: input.query.until).map { ArraySlice($0) }
        let body = HTTPBody(chunks, length: .unknown, iterationBehavior: .single)
        let stamp = Self.fileStamp(Date())
        let disposition = "attachment; filename=\"s4a-activity-\(stamp).\(format.rawValue)\""
        switch format {
        case .jsonl: return .ok(.init(headers: .init(contentDisposition: disposition), body: .applicationXNdjson(body)))
        case .csv: return .ok(.init(headers: .init(contentDisposition: disposition), body: .csv(body)))
        }
    }

    /// `20250102T030405Z`: a file name's timestamp.
    static func fileStamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(dateSeparator: .omitted, dateTimeSeparator: .standard, timeSeparator: .omitted))
    }

    static func contract(_ event: ActivityEvent) -> Components.Schemas.ActivityEvent {
        let record = event.record
        return Components.Schemas.ActivityEvent(
            id: event.id, at: event.at,
            actor: .init(_type: .init(rawValue: record.actor.type.rawValue) ?? .system, id: record.actor.id),
            action: record.action, target: .init(_type: record.target.type, id: record.target.id),
            projectId: record.projectID, metadata: .init(additionalProperties: record.metadata), hash: event.hash)
    }
}
