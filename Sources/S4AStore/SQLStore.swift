import Foundation
import Logging
import S4ADomain
import SQLKit

/// The production `Store`: the same repository SQL over SQLite (default) or PostgreSQL.
public final class SQLStore: Store, @unchecked Sendable {
    let engine: any SQLEngine
    /// Seal each appended activity event (its MAC); derived from the master key, never stored.
    let auditKeys: AuditKeys

    init(engine: any SQLEngine, auditKeys: AuditKeys) {
        self.engine = engine
        self.auditKeys = auditKeys
    }

    /// Opens the database named by `url` (`postgres://…`), or the SQLite file at `sqlitePath`,
    /// and brings its schema up to date unless `migrate` is false (offline tools). `auditKeys`
    /// come from the master key the data is sealed with.
    public static func open(url: String?, sqlitePath: String, migrate: Bool = true, auditKeys: AuditKeys,
                            logger: Logger = Logger(label: "s4a.store")) async throws -> SQLStore {
        let engine: any SQLEngine
        if let url, !url.isEmpty {
            engine = try PostgresEngine(url: url, logger: logger)
        } else {
            guard migrate || FileManager.default.fileExists(atPath: sqlitePath) else {
                throw StoreError.badURL("no database at \(sqlitePath)")
            }
            engine = try await SQLiteEngine.open(path: sqlitePath, logger: logger)
        }
        do {
            if migrate {
                try await Migrations.run(on: engine, keys: auditKeys)
                try await engine.schemaChanged()
            }
        } catch {
            await engine.close()
            throw error
        }
        return SQLStore(engine: engine, auditKeys: auditKeys)
    }

    public var engineName: String { engine.kind.rawValue }

    /// Whether every migration this build knows has been applied (offline tools open without migrating).
    public func isCurrent() async throws -> Bool {
        let versions = Migrations.all.map(\.version)
        return try await engine.withReader { db in
            // Every migration, not only the latest: one may have been lost (or removed by hand).
            let applied = try await db.raw("SELECT version FROM schema_migrations WHERE version IN (\(binds: versions))").all()
            return applied.count == versions.count
        }
    }

    public func write<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        let (engine, keys) = (self.engine, auditKeys)
        return try await withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            do {
                return try await engine.transaction { db in
                    try await box.value(SQLTransaction(db: db, kind: engine.kind, auditKeys: keys))
                }
            } catch where engine.isUniqueViolation(error) {
                throw UniqueViolation(String(describing: error))
            }
        }
    }

    public func read<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T {
        let (engine, keys) = (self.engine, auditKeys)
        return try await withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            return try await engine.readTransaction { db in
                try await box.value(SQLTransaction(db: db, kind: engine.kind, auditKeys: keys))
            }
        }
    }

    /// Raw SQL for tests and offline tools (the activity verifier); not for request paths.
    public func withDatabase<T: Sendable>(_ body: @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await engine.withWriter(body)
    }

    public func close() async { await engine.close() }
}

/// Carries a non-escaping closure across the engine's escaping boundary; it is only called
/// before `withoutActuallyEscaping` returns.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Milliseconds since 1970: how both engines store instants.
extension Date {
    var millis: Int64 { epochMilliseconds }
    init(millis: Int64) { self.init(timeIntervalSince1970: Double(millis) / 1000) }
}
