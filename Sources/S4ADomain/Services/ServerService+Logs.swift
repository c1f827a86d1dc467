import Foundation

/// Which of a server's log lines to show.
public struct LogQuery: Sendable {
    public var since: Date?
    public var until: Date?
    /// Lines containing this text (case-insensitive).
    public var text: String?
    /// At most this many, the newest of those that match.
    public var limit: Int

    public static let defaultLimit = 1000
    public static let maxLimit = 10_000

    public init(since: Date? = nil, until: Date? = nil, text: String? = nil, limit: Int = defaultLimit) {
        self.since = since
        self.until = until
        self.text = text
        self.limit = limit
    }

    func matches(_ line: LogLine) -> Bool {
        if let since, line.time < since { return false }
        if let until, line.time > until { return false }
        if let text, !text.isEmpty, line.text.range(of: text, options: .caseInsensitive) == nil { return false }
        return true
    }
}

extension ServerService {
    /// The server's log lines that match, oldest first (the newest `limit` of them).
    public func logs(_ principal: Principal, id: String, query: LogQuery) async throws -> [LogLine] {
        try await logsWithCursor(principal, id: id, query: query).0
    }

    /// The lines that match now, then each new matching line as it is written, until the
    /// consumer stops listening or the server stops running (as `kubectl logs -f` ends with
    /// its container). Lines are polled for every `interval`.
    public func followLogs(_ principal: Principal, id: String, query: LogQuery,
                           interval: Duration = .milliseconds(250)) async throws -> AsyncThrowingStream<LogLine, any Error> {
        let (backlog, start) = try await logsWithCursor(principal, id: id, query: query)
        let runtime = self.runtime, store = env.store, accountID = principal.accountID
        // Ends when the reader's key is revoked, its session ends or it loses the server.
        let authenticator = Authenticator(env: env), authority = Authority(principal, .scope(.serversRead), serverID: id)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: LogLine.self)
        let task = Task {
            var cursor = start
            for line in backlog { continuation.yield(line) }
            do {
                while !Task.isCancelled {
                    try await Task.sleep(for: interval)
                    guard await authenticator.holds(authority) else { break }
                    // Read before looking at the state: a stopped server's last lines are all written.
                    let running = try await store.read { tx in try await tx.servers.server(id: id, accountID: accountID)?.state == .running }
                    let (lines, next) = try await runtime.readLogs(id, after: cursor)
                    cursor = next
                    for line in lines where query.matches(line) { continuation.yield(line) }
                    if !running { break }
                }
                continuation.finish()
            } catch is CancellationError {
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private func logsWithCursor(_ principal: Principal, id: String, query: LogQuery) async throws -> ([LogLine], LogCursor) {
        try principal.check(.scope(.serversRead))
        guard (1...LogQuery.maxLimit).contains(query.limit) else {
            throw DomainError.invalid("limit", "must be 1 to \(LogQuery.maxLimit)")
        }
        if let since = query.since, let until = query.until, since > until {
            throw DomainError.invalid("since", "must not be after until")
        }
        let server = try await env.store.read { tx in try await tx.reachableServer(id, by: principal) }
        let (lines, cursor) = try await runtime.readLogs(server.id, after: nil)
        return (Array(lines.filter(query.matches).suffix(query.limit)), cursor)
    }
}
