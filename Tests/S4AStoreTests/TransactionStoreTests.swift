import Foundation
import S4ADomain
import S4AStore
import S4ATestSupport
import Testing

/// What `Store.write` and `Store.read` promise, on both engines.
@Suite(.tags(.postgres), .needs(.postgres)) struct TransactionStoreTests {
    /// A write whose task is cancelled inside its transaction still ends that transaction:
    /// nothing of it stays, and the writer serves the next write.
    @Test(arguments: Engine.allCases)
    func aCancelledTransactionStillEnds(engine: Engine) async throws {
        try await engine.withStore { store in
            let account = try await makeAccount(store)
            let (inside, entered) = AsyncStream<Void>.makeStream()
            let writing = Task {
                try await store.write { tx in
                    try await tx.accounts.updatePasswordHash(accountID: account.id, hash: "cancelled")
                    entered.yield()
                    try await Task.sleep(for: .seconds(60))
                }
            }
            var iterator = inside.makeAsyncIterator()
            _ = await iterator.next()
            writing.cancel()
            #expect(await writing.result.isFailure)
            #expect(try await store.read { tx in try await tx.accounts.account(id: account.id) }?.passwordHash == "x")
            try await store.write { tx in try await tx.accounts.updatePasswordHash(accountID: account.id, hash: "after") }
            #expect(try await store.read { tx in try await tx.accounts.account(id: account.id) }?.passwordHash == "after")
        }
    }
}

extension Result {
    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
