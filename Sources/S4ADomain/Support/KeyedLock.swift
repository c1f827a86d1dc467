import Foundation

/// Serialises work per key (a server id) without blocking other keys.
public actor KeyedLock {
    private var busy: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    public func withLock<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    /// Runs `body` holding every key's lock, taken one by one in the order given (callers pass
    /// them sorted, so that two such calls cannot deadlock).
    public func withLocks<T: Sendable>(_ keys: [String], _ body: @Sendable () async throws -> T) async throws -> T {
        for key in keys { await acquire(key) }
        defer { for key in keys.reversed() { release(key) } }
        return try await body()
    }

    /// Takes the key's lock if nobody holds it; true if taken (then `release` it).
    public func tryAcquire(_ key: String) -> Bool {
        guard !busy.contains(key) else { return false }
        busy.insert(key)
        return true
    }

    private func acquire(_ key: String) async {
        if !busy.contains(key) {
            busy.insert(key)
            return
        }
        await withCheckedContinuation { waiters[key, default: []].append($0) }
    }

    public func release(_ key: String) {
        if var queue = waiters[key], !queue.isEmpty {
            queue.removeFirst().resume()
            waiters[key] = queue.isEmpty ? nil : queue
        } else {
            busy.remove(key)
        }
    }
}
