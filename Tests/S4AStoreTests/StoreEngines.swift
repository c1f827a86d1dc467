import Foundation
import S4ADomain
import S4AStore
import Testing

/// The engines every store test runs on: a fresh SQLite file, and the PostgreSQL server that
/// `make test` starts (`S4A_TEST_POSTGRES_URL`). With `S4A_REQUIRE_POSTGRES=1` a missing server fails.
enum Engine: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// The master key every test store's activity events are sealed under.
    static let masterKey = MasterKey.generate()

    static var postgresURL: String? {
        ProcessInfo.processInfo.environment["S4A_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Opens a store on this engine, runs `body`, closes it. PostgreSQL runs are skipped (and
    /// recorded) only when no server was provided and none is required.
    func withStore(_ body: (SQLStore) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url: String?
        switch self {
        case .sqlite: url = nil
        case .postgres:
            guard let postgres = Self.postgresURL else {
                if ProcessInfo.processInfo.environment["S4A_REQUIRE_POSTGRES"] == "1" {
                    Issue.record("S4A_REQUIRE_POSTGRES=1 but S4A_TEST_POSTGRES_URL is not set")
                } else {
                    print("note: PostgreSQL store tests skipped: S4A_TEST_POSTGRES_URL is not set (make test sets it)")
                }
                return
            }
            url = postgres
        }
        let store = try await SQLStore.open(url: url, sqlitePath: directory.appendingPathComponent("s4a.sqlite").path,
                                            auditKeys: try AuditKeys(master: Self.masterKey))
        do {
            try await body(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}

/// Unique values, so tests sharing one PostgreSQL database never collide.
func unique(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(12).lowercased())" }

func makeAccount(_ store: SQLStore) async throws -> Account {
    let account = Account(id: RandomToken.id(.account), email: unique("user") + "@example.com", passwordHash: "x",
                          createdAt: Date(timeIntervalSince1970: 1_800_000_000))
    try await store.write { tx in try await tx.accounts.insert(account) }
    return account
}

/// A running server (cap 1000 µ$) in a project of its own.
func makeServer(_ store: SQLStore, _ account: Account) async throws -> Server {
    let project = Project(id: RandomToken.id(.project), accountID: account.id, name: "l", slug: unique("l"),
                          visibility: .private, createdAt: Date(), updatedAt: Date())
    let server = Server(id: RandomToken.id(.server), projectID: project.id, accountID: account.id, name: "s",
                        template: "base", cpuMillis: 1000, memoryMB: 512, diskMB: 64, pidsLimit: 512,
                        budget: MicroDollars(1_000), network: .none, state: .running, uidSlot: Int.random(in: 100_000...100_000_000),
                        createdAt: Date(), updatedAt: Date())
    try await store.write { tx in
        try await tx.projects.insert(project)
        try await tx.servers.insert(server)
    }
    return server
}
