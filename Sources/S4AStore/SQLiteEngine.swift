import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// The embedded default: one SQLite file in WAL mode, one writer connection behind a lock
/// and a few read-only reader connections, each lent to one read at a time, that see committed
/// data while a write is open.
final class SQLiteEngine: SQLEngine, @unchecked Sendable {
    let kind = SQLEngineKind.sqlite
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let writeLock = AsyncLock()
    private let readerLender: ConnectionLender

    private init(writer: SQLiteConnection, readers: [SQLiteConnection]) {
        self.writer = writer
        self.readers = readers
        self.readerLender = ConnectionLender(count: readers.count)
    }

    static func open(path: String, readers readerCount: Int = 3, logger: Logger) async throws -> SQLiteEngine {
        func connect(readOnly: Bool) async throws -> SQLiteConnection {
            let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger).get()
            let db = connection.sql()
            // WAL lets readers proceed during a write; FULL sync makes every commit durable.
            try await db.raw("PRAGMA journal_mode = WAL").run()
            try await db.raw("PRAGMA synchronous = FULL").run()
            try await db.raw("PRAGMA foreign_keys = ON").run()
            try await db.raw("PRAGMA busy_timeout = 5000").run()
            // Writes go through the writer and its lock only; a reader refuses them.
            if readOnly { try await db.raw("PRAGMA query_only = ON").run() }
            return connection
        }
        let writer = try await connect(readOnly: false)
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount { readers.append(try await connect(readOnly: true)) }
        return SQLiteEngine(writer: writer, readers: readers)
    }

    func withReader<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let index = await readerLender.borrow()
        do {
            let result = try await body(readers[index].sql())
            await readerLender.giveBack(index)
            return result
        } catch {
            await readerLender.giveBack(index)
            throw error
        }
    }

    func withWriter<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let db = writer.sql()
        return try await writeLock.run { try await body(db) }
    }

    func isUniqueViolation(_ error: any Error) -> Bool {
        guard let error = error as? SQLiteError else { return false }
        return error.reason == .constraint || error.reason == .constraintUniqueFailed
            || error.reason == .constraintPrimaryKeyFailed
    }

    /// A reader connection prepares statements against the schema it loaded when it opened,
    /// so a `SELECT *` right after a migration can lack a new column (SQLite notices the change
    /// only when the statement steps, after sqlite-nio took the column names). One statement
    /// that touches the schema on each reader makes them load the new one.
    func schemaChanged() async throws {
        for reader in readers { _ = try await reader.sql().raw("SELECT count(*) AS n FROM sqlite_master").all() }
    }

    func close() async {
        for connection in readers + [writer] { try? await connection.close().get() }
    }
}
