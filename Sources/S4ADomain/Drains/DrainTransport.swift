import Foundation

/// Sends a drain's batches (HTTPS in production). Every call must end within its own
/// timeout, so an endpoint that never answers holds only its own drain.
public protocol DrainTransport: Sendable {
    /// POSTs `body`; nil when the endpoint answered 2xx, else a short reason (shown in the API,
    /// so never the endpoint's answer itself).
    func post(url: String, headers: [(name: String, value: String)], body: [UInt8]) async -> String?
    /// Why `url` may not be sent to (it resolves to the host itself, a private network…), or nil.
    /// Asked when a drain is created; `post` asks again at every connection.
    func refusal(for url: String) async -> String?
}

/// How drains batch, buffer and retry.
public struct DrainSettings: Sendable {
    /// Records a drain holds while its endpoint is slow or down; more are dropped and counted.
    public var bufferCapacity = 10_000
    /// Records per batch at most.
    public var batchMax = 500
    /// How long records gather into a batch (and how often sources are read when idle).
    public var batchInterval: Duration = .seconds(1)
    /// The first retry waits this long, each next one twice as long up to `backoffCap`.
    public var backoffStart: Duration = .milliseconds(500)
    public var backoffCap: Duration = .seconds(30)
    /// How often the set of drains is re-read (new ones start, deleted ones stop).
    public var refreshInterval: Duration = .seconds(1)
    /// How long a control plane's claim on a drain lasts unless renewed (each refresh renews it):
    /// how soon another replica takes over the drains of one that died.
    public var claimLifetime: TimeInterval = 15
    public init() {}
}
