import NIOConcurrencyHelpers
import NIOCore

/// Hands a response body from the task reading the app's connection to the task writing the
/// client's, one part at a time: the sender waits until its part is taken, so a slow client
/// slows the app down instead of filling memory.
final class BodyPipe: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    struct Cancelled: Error {}

    private struct State {
        var waitingReceiver: CheckedContinuation<ByteBuffer?, any Error>?
        var waitingSender: (ByteBuffer, CheckedContinuation<Void, any Error>)?
        var ended: Result<Void, any Error>?
    }

    private let state = NIOLockedValueBox(State())

    /// Returns once the receiver took `buffer`; throws if it went away.
    func send(_ buffer: ByteBuffer) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let action: (() -> Void)? = state.withLockedValue { state in
                if case .failure(let error)? = state.ended { return { continuation.resume(throwing: error) } }
                if let receiver = state.waitingReceiver {
                    state.waitingReceiver = nil
                    return { receiver.resume(returning: buffer); continuation.resume() }
                }
                state.waitingSender = (buffer, continuation)
                return nil
            }
            action?()
        }
    }

    /// The body ended (nil) or broke (an error); the receiver learns it after the last part.
    func finish(_ error: (any Error)? = nil) {
        let receiver: CheckedContinuation<ByteBuffer?, any Error>? = state.withLockedValue { state in
            guard state.ended == nil else { return nil }
            state.ended = error.map { .failure($0) } ?? .success(())
            defer { state.waitingReceiver = nil }
            return state.waitingReceiver
        }
        if let error { receiver?.resume(throwing: error) } else { receiver?.resume(returning: nil) }
    }

    /// The receiver is gone (the client left): a waiting or later sender fails.
    func cancel() {
        let sender: CheckedContinuation<Void, any Error>? = state.withLockedValue { state in
            if state.ended == nil { state.ended = .failure(Cancelled()) }
            defer { state.waitingSender = nil }
            return state.waitingSender?.1
        }
        sender?.resume(throwing: Cancelled())
    }

    func receive() async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
            let action: () -> Void = state.withLockedValue { state in
                if let (buffer, sender) = state.waitingSender {
                    state.waitingSender = nil
                    return { continuation.resume(returning: buffer); sender.resume() }
                }
                switch state.ended {
                case .success?: return { continuation.resume(returning: nil) }
                case .failure(let error)?: return { continuation.resume(throwing: error) }
                case nil:
                    state.waitingReceiver = continuation
                    return {}
                }
            }
            action()
        }
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let pipe: BodyPipe
        func next() async throws -> ByteBuffer? { try await pipe.receive() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pipe: self) }
}
