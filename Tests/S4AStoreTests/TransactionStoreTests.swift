import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// What `Store.write` and `Store.read` promise, on both engines.
@Suite(.tags(.postgres), .needs(.postgres)) struct TransactionStoreTests {
    /// A write committed between two statements of a read (by another task, while the read waits
    /// for it) is invisible to the rest of that read, changed row and new row alike; the next read
    /// sees it.
    @Test(arguments: Engine.allCases)
    func aReadSeesOneSnapshot(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let project = Project(id: RandomToken.id(.project), accountID: account.id, name: "later", slug: unique("later"),
                                  visibility: .private, createdAt: Date(), updatedAt: Date())
            let (before, after, projects) = try await store.read { tx in
                let before = try await tx.accounts.account(id: account.id)?.passwordHash
                try await Task {
                    try await store.write { tx in
                        try await tx.accounts.updatePasswordHash(accountID: account.id, hash: "changed")
                        try await tx.projects.insert(project)
                    }
                }.value
                let after = try await tx.accounts.account(id: account.id)?.passwordHash
                let projects = try await tx.projects.projectIDs(accountID: account.id)
                return (before, after, projects)
            }
            #expect(before == "x")
            #expect(after == "x")
            #expect(projects.isEmpty)
            let (now, nowProjects) = try await store.read { tx in
                (try await tx.accounts.account(id: account.id)?.passwordHash, try await tx.projects.projectIDs(accountID: account.id))
            }
            #expect(now == "changed")
            #expect(nowProjects == [project.id])
        }
    }

    /// A read cannot write: the statement fails, nothing changes, and the connection it used
    /// serves the next reads.
    @Test(arguments: Engine.allCases)
    func aReadCannotWrite(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            await #expect(throws: (any Error).self) {
                try await store.read { tx in try await tx.accounts.updatePasswordHash(accountID: account.id, hash: "sneaked") }
            }
            for _ in 0..<5 {
                #expect(try await store.read { tx in try await tx.accounts.account(id: account.id) }?.passwordHash == "x")
            }
        }
    }

    /// A read or a write whose task is cancelled inside its transaction still ends that
    /// transaction: nothing of the write stays, and the connections serve what comes next.
    @Test(arguments: Engine.allCases)
    func aCancelledTransactionStillEnds(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let (inside, entered) = AsyncStream<Void>.makeStream()
            let reading = Task {
                try await store.read { tx in
                    _ = try await tx.accounts.account(id: account.id)
                    entered.yield()
                    try await Task.sleep(for: .seconds(60))
                }
            }
            let writing = Task {
                try await store.write { tx in
                    try await tx.accounts.updatePasswordHash(accountID: account.id, hash: "cancelled")
                    entered.yield()
                    try await Task.sleep(for: .seconds(60))
                }
            }
            var iterator = inside.makeAsyncIterator()
            _ = await iterator.next()
            _ = await iterator.next()
            reading.cancel()
            writing.cancel()
            #expect(await reading.result.isFailure)
            #expect(await writing.result.isFailure)
            for _ in 0..<5 {
                #expect(try await store.read { tx in try await tx.accounts.account(id: account.id) }?.passwordHash == "x")
            }
            try await store.write { tx in try await tx.accounts.updatePasswordHash(accountID: account.id, hash: "after") }
            #expect(try await store.read { tx in try await tx.accounts.account(id: account.id) }?.passwordHash == "after")
        }
    }

    /// More reads at once than SQLite has reader connections: each waits for a free one, none
    /// shares one with another read's transaction.
    @Test(arguments: Engine.allCases)
    func manyReadsAtOnce(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let hashes = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<24 {
                    group.addTask {
                        try await store.read { tx in
                            _ = try await tx.projects.projectIDs(accountID: account.id)
                            await Task.yield()
                            return try await tx.accounts.account(id: account.id)?.passwordHash
                        }
                    }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(hashes == Array(repeating: "x", count: 24))
        }
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
