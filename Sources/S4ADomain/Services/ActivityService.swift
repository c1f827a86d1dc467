import Foundation

/// The account's activity feed, narrowed to a key's projects when the key is restricted.
public struct ActivityService: Sendable {
    let env: DomainEnvironment
    public init(env: DomainEnvironment) { self.env = env }

    public func list(_ principal: Principal, projectID: String?, action: String?, cursor: String?,
                     limit: Int) async throws -> Page<ActivityEvent> {
        try principal.check(.scope(.activityRead))
        let projects = try principal.projects(narrowedTo: projectID)
        let query = ActivityQuery(accountID: principal.accountID, projectIDs: projects, action: action,
                                  cursor: cursor, limit: limit)
        return try await env.store.read { tx in try await tx.activity(query) }
    }
}

extension ActivityService {
    /// The account's events (of the key's projects, for a restricted key) in chain order, in
    /// `format`: one chunk per page of at most `ActivityExport.pageSize` events, each read from
    /// the store only when the consumer asks for it (a slow reader holds one page, not the
    /// chain). Checks the caller and the range first, so errors come before the stream.
    public func export(_ principal: Principal, format: ActivityExport.Format, projectID: String? = nil, action: String? = nil,
                       since: Date?, until: Date?) throws -> AsyncThrowingStream<[UInt8], any Error> {
        try principal.check(.scope(.activityRead))
        if let since, let until, since > until { throw DomainError.invalid("since", "must not be after until") }
        let projects = try principal.projects(narrowedTo: projectID)
        let store = env.store
        let pages = ActivityPages(range: ActivityRange(accountID: principal.accountID, projectIDs: projects, action: action,
                                                       since: since, until: until, limit: ActivityExport.pageSize),
                                  header: format == .csv ? ActivityExport.csvHeader : nil)
        let row = format == .csv ? ActivityExport.csvRow : ActivityExport.jsonLine
        return AsyncThrowingStream(unfolding: { try await pages.next(store, row) })
    }
}

/// Where an export got to in the chain.
private actor ActivityPages {
    var range: ActivityRange
    var header: [UInt8]?
    var done = false
    init(range: ActivityRange, header: [UInt8]?) {
        self.range = range
        self.header = header
    }

    func next(_ store: any Store, _ row: @Sendable (ActivityEvent) -> [UInt8]) async throws -> [UInt8]? {
        if let first = header {
            header = nil
            return first
        }
        guard !done else { return nil }
        let query = range
        let page = try await store.read { tx in try await tx.activity(in: query) }
        done = page.count < query.limit
        guard let last = page.last else { return nil }
        range.afterSeq = last.seq
        return page.flatMap(row)
    }
}
