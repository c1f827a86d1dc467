import Foundation
import S4AClient
import S4AContract

/// A server's log lines as text, one per line: `time stream text`.
enum LogText {
    static func lines(server: String, since: Date? = nil, until: Date? = nil, q: String? = nil, limit: Int,
                      _ connection: APIConnection) async throws -> [Components.Schemas.LogLine] {
        let query = Operations.GetServerLogs.Input.Query(since: since, until: until, q: q, limit: limit)
        switch try await connection.client.getServerLogs(path: .init(serverId: server), query: query) {
        case .ok(let ok):
            guard case .json(let body) = ok.body else { throw ToolInputError("The API streamed the logs instead of listing them.") }
            return body.lines
        case .default(let status, let problem): throw APIProblem(status: status, problem)
        }
    }

    static func format(_ lines: [Components.Schemas.LogLine]) -> String {
        lines.map { line in
            let time = line.time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            let text = line.stream == .system ? "[\(line.runId)] \(line.text)" : line.text
            return "\(time) \(line.stream.rawValue) \(text)"
        }.joined(separator: "\n")
    }
}
