import ArgumentParser
import Foundation
import OpenAPIRuntime
import S4AClient
import S4AContract

/// `s4a logs SERVER [-f]`: what the server's long-running processes printed.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Show a server's logs: its background commands and deployed app, timestamped.",
        discussion: "Example: s4a logs srv_… --since 10m -q error. With -f, keep printing new lines until interrupted.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "The server: its id (srv_…) or project/name.") var server: String
    @Flag(name: [.short, .customLong("follow")], help: "Keep printing new lines as they come.") var follow = false
    @Option(help: "Only lines at or after this time (RFC 3339, or a duration ago: 10m, 6h, 7d).") var since: String?
    @Option(help: "Only lines at or before this RFC 3339 time.") var until: String?
    @Option(name: .short, help: "Only lines containing this text (case-insensitive).") var q: String?
    @Option(help: "At most this many lines, the newest (default 1000).") var limit: Int?

    func run() async throws {
        let query = Operations.GetServerLogs.Input.Query(
            since: try TimeArgument.parse(since, "since"), until: try TimeArgument.parse(until, "until"), q: q, limit: limit, follow: follow ? true : nil)
        let json = client.json
        try await withConnection(client) { connection in
            switch try await connection.client.getServerLogs(path: .init(serverId: try await References.serverID(server, connection)), query: query) {
            case .ok(let ok):
                switch ok.body {
                case .json(let body):
                    if json { try Output.json(body.lines) } else { body.lines.forEach(Self.print) }
                case .textEventStream(let stream):
                    let events = stream.asDecodedServerSentEventsWithJSONData(of: Components.Schemas.LogLine.self,
                                                                               decoder: .s4a)
                    for try await event in events {
                        guard let line = event.data else { continue }
                        if json { try Output.jsonLine(line) } else { Self.print(line) }
                    }
                }
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
    }

    static func print(_ line: Components.Schemas.LogLine) {
        let time = line.time.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        let text = line.stream == .system ? "[\(line.runId)] \(line.text)" : line.text
        FileHandle.standardOutput.write(Data("\(time) \(line.stream.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)) \(text)\n".utf8))
    }
}
