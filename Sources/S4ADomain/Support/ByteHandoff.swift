import Foundation

/// Hands pieces of a stream from a producer thread that may block (a child process's pipe
/// reader) to an async consumer, at most `capacity` pieces in between: while they wait the
/// producer blocks, so the child blocks on its pipe, and nothing piles up in memory.
public final class ByteHandoff: @unchecked Sendable {
    private let condition = NSCondition()
    private var pieces: [[UInt8]] = []
    private var waiter: CheckedContinuation<[UInt8]?, Never>?
    private var finished = false
    private var cancelled = false
    private let capacity: Int

    public init(capacity: Int = 4) { self.capacity = capacity }

    /// Producer side (blocking). After `cancel` the pieces are dropped.
    public func put(_ piece: [UInt8]) {
        condition.lock()
        defer { condition.unlock() }
        guard !cancelled, !piece.isEmpty else { return }
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: piece)
            return
        }
        pieces.append(piece)
        while pieces.count >= capacity, !cancelled { condition.wait() }
    }

    /// The producer is done.
    public func finish() {
        condition.lock()
        defer { condition.unlock() }
        finished = true
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: nil)
        }
    }

    /// The consumer gave up: the producer stops waiting.
    public func cancel() {
        condition.lock()
        defer { condition.unlock() }
        cancelled = true
        pieces = []
        condition.broadcast()
        if let waiter {
            self.waiter = nil
            waiter.resume(returning: nil)
        }
    }

    /// The next piece; nil at the end.
    public func next() async -> [UInt8]? {
        await withCheckedContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            if !pieces.isEmpty {
                continuation.resume(returning: pieces.removeFirst())
                condition.broadcast()
            } else if finished || cancelled {
                continuation.resume(returning: nil)
            } else {
                waiter = continuation
            }
        }
    }
}
