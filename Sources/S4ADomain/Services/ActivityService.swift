import Foundation

/// The account's activity feed, narrowed to a key's projects when the key is restricted.
public struct ActivityService: Sendable {
    let env: DomainEnvironment
    /// Where the export's checkpoint comes from.
    let anchor: AuditAnchor?
    public init(env: DomainEnvironment, anchor: AuditAnchor? = nil) {
        self.env = env
        self.anchor = anchor
    }

    public func list(_ principal: Principal, projectID: String?, action: String?, cursor: String?,
                     limit: Int) async throws -> Page<ActivityEvent> {
        try principal.check(.scope(.activityRead))
        let projects = try principal.projects(narrowedTo: projectID)
        let query = ActivityQuery(accountID: principal.accountID, projectIDs: projects, action: action,
                                  cursor: cursor, limit: limit)
        return try await env.store.read { tx in try await tx.activity.activity(query) }
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
        // The whole chain, as JSON Lines: its latest signed checkpoint closes it (a narrowed
        // export may lack the event it names, so it gets none).
        var trailer: (@Sendable () async throws -> [UInt8]?)?
        if format == .jsonl, projects == nil, action == nil, since == nil, until == nil, let anchor {
            let accountID = principal.accountID
            trailer = {
                try await anchor.latest(accountID: accountID).map { ActivityExport.checkpointLine($0, publicKey: anchor.publicKey) }
            }
        }
        let pages = ActivityPages(range: ActivityRange(accountID: principal.accountID, projectIDs: projects, action: action,
                                                       since: since, until: until, limit: ActivityExport.pageSize),
                                  header: format == .csv ? ActivityExport.csvHeader : nil, trailer: trailer)
        let row = format == .csv ? ActivityExport.csvRow : ActivityExport.jsonLine
        return AsyncThrowingStream(unfolding: { try await pages.next(store, row) })
    }
}

/// Where an export got to in the chain.
private actor ActivityPages {
    var range: ActivityRange
    var header: [UInt8]?
    var done = false
    /// Written after the last event.
    var trailer: (@Sendable () async throws -> [UInt8]?)?
    init(range: ActivityRange, header: [UInt8]?, trailer: (@Sendable () async throws -> [UInt8]?)?) {
        self.range = range
        self.header = header
        self.trailer = trailer
    }

    func next(_ store: any Store, _ row: @Sendable (ActivityEvent) -> [UInt8]) async throws -> [UInt8]? {
        if let first = header {
            header = nil
            return first
        }
        if !done {
            let query = range
            let page = try await store.read { tx in try await tx.activity.activity(in: query) }
            done = page.count < query.limit
            if let last = page.last {
                range.afterSeq = last.seq
                return page.flatMap(row)
            }
            done = true
        }
        guard let trailer else { return nil }
        self.trailer = nil
        return try await trailer()
    }
}
