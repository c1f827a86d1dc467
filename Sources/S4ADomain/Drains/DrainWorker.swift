import Foundation

/// Delivers one drain until cancelled: reads its sources into a bounded buffer, sends
/// batches, retries a failed batch unchanged with exponential backoff, and saves its progress
/// after every attempt.
///
/// Sources are read, not pushed: activity from the store after the last event delivered (so
/// no event is ever lost, however long the endpoint is down: an event is read only when the
/// buffer has room for it), log lines from each server's log files by offset (the supervisors
/// that write them never wait for anyone). The files are read every second, backoff or not,
/// so rotation and retention do not take unread lines; lines beyond the buffer are dropped
/// and counted. After a restart each server's files are read again from its mark (the
/// millisecond of its last delivered line and how many lines shared it).
struct DrainWorker {
    let drain: LogDrain
    let secret: String
    let store: any Store
    let logs: any ServerLogReader
    let transport: any DrainTransport
    let settings: DrainSettings
    let now: @Sendable () -> Date

    var progress: DrainProgress
    var buffer: DrainBuffer
    /// Where reading got to (ahead of `progress`, which is what was delivered).
    var activityRead: Int64
    var logCursors: [String: LogCursor] = [:]

    init(drain: LogDrain, secret: String, store: any Store, logs: any ServerLogReader, transport: any DrainTransport,
         settings: DrainSettings, now: @escaping @Sendable () -> Date) {
        self.drain = drain
        self.secret = secret
        self.store = store
        self.logs = logs
        self.transport = transport
        self.settings = settings
        self.now = now
        progress = drain.progress
        buffer = DrainBuffer(capacity: settings.bufferCapacity)
        activityRead = drain.progress.activitySeq
    }

    mutating func run() async {
        while !Task.isCancelled {
            await fill()
            if !buffer.isEmpty || buffer.drops > 0 {
                let items = buffer.take(max: settings.batchMax)
                let drops = buffer.takeDrops()
                let batch = DrainBatch(drainID: drain.id, projectID: drain.projectID, after: progress.recordSeq,
                                       items: items, drops: drops, now: now())
                await deliver(batch)
            }
            if buffer.count < settings.batchMax { try? await Task.sleep(for: settings.batchInterval) }
        }
    }

    /// Sends `batch` until the endpoint takes it (or the drain stops).
    mutating func deliver(_ batch: DrainBatch) async {
        var delay = settings.backoffStart
        while !Task.isCancelled {
            let failure = await transport.post(url: drain.url, headers: batch.headers(drainID: drain.id, secret: secret, now: now()),
                                               body: batch.body)
            // Stopping: a failure is the cancelled request's; a success is still saved, so a
            // restart does not send the batch again.
            if failure != nil, Task.isCancelled { return }
            if let failure {
                progress.lastError = failure
                progress.lastErrorAt = now()
                await save()
                // Back off, reading the sources meanwhile (see above).
                var waited = Duration.zero
                while waited < delay, !Task.isCancelled {
                    let step = min(settings.batchInterval, delay - waited)
                    try? await Task.sleep(for: step)
                    waited += step
                    await fill()
                }
                delay = min(delay * 2, settings.backoffCap)
                continue
            }
            progress.recordSeq = batch.lastSeq
            if let seq = batch.activitySeq { progress.activitySeq = seq }
            batch.advance(&progress.logMarks)
            progress.delivered += Int64(batch.count)
            progress.lastSuccessAt = now()
            await save()
            return
        }
    }

    /// Reads what is new into the buffer.
    mutating func fill() async {
        do {
            if drain.kinds.contains(.activity), buffer.room > 0 {
                let range = ActivityRange(accountID: drain.accountID, projectIDs: [drain.projectID], afterSeq: activityRead,
                                          limit: buffer.room)
                let events = try await store.read { tx in try await tx.activity.activity(in: range) }
                buffer.append(contentsOf: events.map(DrainItem.activity))
                if let last = events.last { activityRead = last.seq }
            }
            if drain.kinds.contains(.logs) {
                var lines: [(String, LogLine)] = []
                for serverID in try await serverIDs() {
                    let cursor = logCursors[serverID]
                    let (read, next) = try await logs.readLogs(serverID, after: cursor)
                    // Until its logs exist, a server's next read is still its first.
                    if cursor != nil || !next.offsets.isEmpty { logCursors[serverID] = next }
                    // A first read holds every kept line: only those after what was delivered.
                    lines += (cursor == nil ? undelivered(read, of: serverID) : read).map { (serverID, $0) }
                }
                lines.sort { $0.1.time < $1.1.time }
                let dropped = buffer.append(contentsOf: lines.map { DrainItem.log(serverID: $0.0, line: $0.1) })
                if dropped > 0 {
                    progress.dropped += Int64(dropped)
                    await save()
                }
            }
        } catch {
            progress.lastError = "reading the project's records failed"
            progress.lastErrorAt = now()
            await save()
        }
    }

    func undelivered(_ lines: [LogLine], of serverID: String) -> [LogLine] {
        if let mark = progress.logMarks[serverID] { return mark.undelivered(lines) }
        let after = progress.logsAfter.epochMilliseconds
        return lines.filter { $0.millis > after }
    }

    func serverIDs() async throws -> [String] {
        let accountID = drain.accountID, projectID = drain.projectID
        return try await store.read { tx in
            var ids: [String] = []
            var cursor: String?
            repeat {
                let page = try await tx.servers.servers(accountID: accountID, projectIDs: [projectID], cursor: cursor, limit: 200)
                ids += page.items.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            return ids
        }
    }

    func save() async {
        let id = drain.id, progress = self.progress
        _ = try? await store.write { tx in try await tx.logDrains.updateLogDrainProgress(id: id, progress) }
    }
}
