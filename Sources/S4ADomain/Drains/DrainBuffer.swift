import Foundation

/// One thing a drain sends: an activity event or a server's log line.
public enum DrainItem: Sendable, Equatable {
    case activity(ActivityEvent)
    case log(serverID: String, line: LogLine)
}

/// A drain's records waiting to be sent, at most `capacity` of them. Adding never waits: what
/// does not fit is dropped and counted, and the count is reported (then reset) with the next
/// batch, so a slow or absent endpoint costs records, never a writer's time.
public struct DrainBuffer: Sendable {
    public let capacity: Int
    private var items: [DrainItem] = []
    /// Index of the oldest item still held (taking from the front is O(1); storage is compacted lazily).
    private var head = 0
    /// Dropped since the last `takeDrops()`.
    public private(set) var drops: Int64 = 0

    public init(capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    public var count: Int { items.count - head }
    public var isEmpty: Bool { count == 0 }
    public var room: Int { capacity - count }

    /// Appends in order what fits; returns how many were dropped.
    @discardableResult
    public mutating func append<S: Sequence>(contentsOf new: S) -> Int where S.Element == DrainItem {
        var dropped = 0
        for item in new {
            if count < capacity {
                items.append(item)
            } else {
                dropped += 1
            }
        }
        drops += Int64(dropped)
        return dropped
    }

    /// The oldest `max` items (fewer if fewer are held), removed.
    public mutating func take(max: Int) -> [DrainItem] {
        let end = min(items.count, head + max)
        let taken = Array(items[head..<end])
        head = end
        if head > 4096 || head == items.count {
            items.removeFirst(head)
            head = 0
        }
        return taken
    }

    /// The drop count to report, reset to zero.
    public mutating func takeDrops() -> Int64 {
        defer { drops = 0 }
        return drops
    }
}
