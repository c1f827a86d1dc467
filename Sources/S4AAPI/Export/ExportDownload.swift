import Foundation
import OpenAPIRuntime
import S4ADomain

/// An export's download: a task builds the archive (tar entries one by one, gzip on the fly)
/// into a channel of at most a few pieces, which the response body drains. A client that reads
/// slowly makes the builder wait rather than the plane buffer; one that goes away ends it.
enum ExportDownload {
    static func body(_ link: ExportLink, exports: ExportService) -> HTTPBody {
        streamedBody { send in
            let gzip = try GzipStream()
            let tar = TarWriter(mtime: link.createdAt) { bytes in
                let compressed = try gzip.compress(bytes)
                if !compressed.isEmpty { try await send(compressed) }
            }
            try await exports.writeArchive(link, to: tar)
            try await send(try gzip.finish())
        }
    }
}

/// A response body that `produce` writes piece by piece in a task of its own, at most a few
/// pieces ahead of the client: a slow reader makes it wait, one that goes away cancels it.
func streamedBody(_ produce: @escaping @Sendable (_ send: @escaping @Sendable ([UInt8]) async throws -> Void) async throws -> Void) -> HTTPBody {
    let channel = BoundedChunks(capacity: 4)
    let task = Task {
        do {
            try await produce { bytes in try await channel.send(bytes) }
            await channel.finish(nil)
        } catch {
            await channel.finish(error)
        }
    }
    return HTTPBody(ChunkSequence(channel: channel, producer: task), length: .unknown, iterationBehavior: .single)
}

/// A single-producer, single-consumer channel of at most `capacity` pieces: `send` waits while
/// it is full, `receive` while it is empty; `close` (the consumer left) fails the producer.
actor BoundedChunks {
    private var chunks: [[UInt8]] = []
    private let capacity: Int
    private var receiver: CheckedContinuation<[UInt8]?, any Error>?
    private var sender: CheckedContinuation<Void, any Error>?
    private var done = false
    private var failure: (any Error)?
    private var closed = false

    init(capacity: Int) { self.capacity = capacity }

    func send(_ chunk: [UInt8]) async throws {
        guard !closed else { throw CancellationError() }
        guard !chunk.isEmpty else { return }
        if let receiver {
            self.receiver = nil
            receiver.resume(returning: chunk)
            return
        }
        chunks.append(chunk)
        if chunks.count >= capacity {
            try await withCheckedThrowingContinuation { sender = $0 }
        }
    }

    func receive() async throws -> [UInt8]? {
        if !chunks.isEmpty {
            let chunk = chunks.removeFirst()
            if let sender {
                self.sender = nil
                sender.resume()
            }
            return chunk
        }
        if let failure { throw failure }
        if done || closed { return nil }
        return try await withCheckedThrowingContinuation { receiver = $0 }
    }

    func finish(_ error: (any Error)?) {
        done = true
        failure = error
        guard let receiver else { return }
        self.receiver = nil
        if let error { receiver.resume(throwing: error) } else { receiver.resume(returning: nil) }
    }

    func close() {
        closed = true
        chunks = []
        if let sender {
            self.sender = nil
            sender.resume(throwing: CancellationError())
        }
    }
}

struct ChunkSequence: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>
    let channel: BoundedChunks
    let producer: Task<Void, Never>

    final class AsyncIterator: AsyncIteratorProtocol {
        let channel: BoundedChunks
        let producer: Task<Void, Never>
        init(channel: BoundedChunks, producer: Task<Void, Never>) {
            self.channel = channel
            self.producer = producer
        }

        func next() async throws -> ArraySlice<UInt8>? {
            do {
                return try await channel.receive().map { $0[...] }
            } catch {
                producer.cancel()
                throw error
            }
        }

        // The response went away (or ended): the builder stops at its next piece.
        deinit {
            let channel = self.channel
            producer.cancel()
            Task { await channel.close() }
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(channel: channel, producer: producer) }
}
