import SQLKit

/// One SQL database server or file: hands out connections and runs transactions.
/// The repository code above it is the same for every engine.
protocol SQLEngine: Sendable {
    var kind: SQLEngineKind { get }
    /// A connection for reads, `body`'s alone until it returns (so it can hold a read
    /// transaction); never the writer's.
    func withReader<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    /// A connection for one write transaction; writers of this engine never interleave on it.
    func withWriter<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T
    func isUniqueViolation(_ error: any Error) -> Bool
    /// After migrations: connections opened before them must not answer from the old schema.
    func schemaChanged() async throws
    func close() async
}

enum SQLEngineKind: String, Sendable {
    case sqlite, postgres

    var beginTransaction: String { self == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN" }

    /// A transaction that reads one snapshot and cannot write. SQLite: a deferred transaction
    /// takes its snapshot of the write-ahead log at its first read and keeps it to the end
    /// (writes are refused by the readers' `query_only`). PostgreSQL: REPEATABLE READ takes its
    /// snapshot at the first statement; READ ONLY refuses writes and row locks.
    var beginReadTransaction: String {
        self == .sqlite ? "BEGIN DEFERRED" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
    }
}

extension SQLEngine {
    /// BEGIN … COMMIT around `body` on the writer, ROLLBACK if it throws.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let begin = kind.beginTransaction
        return try await withWriter { db in try await Self.run(body, on: db, begin: begin) }
    }

    /// A read-only transaction (`beginReadTransaction`) around `body` on a reader: every
    /// statement in it sees the same committed snapshot.
    func readTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let begin = kind.beginReadTransaction
        return try await withReader { db in try await Self.run(body, on: db, begin: begin) }
    }

    private static func run<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T, on db: any SQLDatabase,
                                         begin: String) async throws -> T {
        try await db.raw("\(unsafeRaw: begin)").run()
        do {
            let result = try await body(db)
            try await db.raw("COMMIT").run()
            return result
        } catch {
            // Not in this task: a cancelled task's statements are dropped unrun (sqlite-nio runs
            // them on a thread pool that skips cancelled work), and a connection left inside its
            // transaction would refuse every later BEGIN.
            await Task { try? await db.raw("ROLLBACK").run() }.value
            throw error
        }
    }
}

/// A FIFO async mutex: one SQLite connection runs one transaction at a time.
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if !locked {
            locked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty { locked = false } else { waiters.removeFirst().resume() }
    }

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await lock()
        do {
            let result = try await body()
            unlock()
            return result
        } catch {
            unlock()
            throw error
        }
    }
}

/// Lends each of `count` connections to one borrower at a time; borrowers wait for the next one
/// returned, first come first served.
actor ConnectionLender {
    private var free: [Int]
    private var waiters: [CheckedContinuation<Int, Never>] = []

    init(count: Int) { free = Array((0..<count).reversed()) }

    func borrow() async -> Int {
        if let index = free.popLast() { return index }
        return await withCheckedContinuation { waiters.append($0) }
    }

    func giveBack(_ index: Int) {
        if waiters.isEmpty { free.append(index) } else { waiters.removeFirst().resume(returning: index) }
    }
}
