import Foundation
@testable import S4ADomain
import Testing

@Suite struct PrincipalTests {
    func key(_ scopes: Set<Scope>, projects: Set<String>? = nil, expires: Date? = nil, ceiling: Int64? = nil) -> APIKey {
        APIKey(id: "key_p", accountID: "acc", parentKeyID: nil, name: "p", tokenHash: "h", prefix: "s4a_", scopes: scopes,
               projectIDs: projects, expiresAt: expires, maxServerBudget: ceiling.map(MicroDollars.init), createdAt: Date())
    }

    @Test func requirementsFromTheContract() {
        #expect(Requirement(contract: "public") == .publicAccess)
        #expect(Requirement(contract: "session") == .session)
        #expect(Requirement(contract: "projects:read") == .scope(.projectsRead))
        #expect(Requirement(contract: "projects:*") == nil)
        #expect(Requirement(contract: "") == nil)
    }

    @Test func sessionsHoldEveryScopeButKeysOnlyTheirs() throws {
        let session = Principal(accountID: "acc", credential: .session(
            Session(id: "ses", accountID: "acc", tokenHash: "h", createdAt: Date(), expiresAt: Date())))
        for scope in Scope.allCases { try session.check(.scope(scope)) }
        try session.check(.session)
        let agent = Principal(accountID: "acc", credential: .apiKey(key([.projectsRead])))
        try agent.check(.scope(.projectsRead))
        #expect(throws: DomainError.self) { try agent.check(.scope(.projectsWrite)) }
        #expect(throws: DomainError.self) { try agent.check(.session) }
        #expect(throws: DomainError.self) { try agent.check(.operator) }
    }

    @Test func childKeysAreBoundedByTheirParent() throws {
        let now = Date()
        let service = APIKeyService(env: DomainEnvironment(store: NoStore(), settings: DomainSettings(), hasher: NoHasher()))
        let parent = key([.projectsRead, .keysWrite], projects: ["prj_a", "prj_b"], expires: now + 3600, ceiling: 5_000_000)
        let inherited = try service.bound(NewAPIKey(name: "c", scopes: [.projectsRead]), by: parent)
        #expect(inherited.projectIDs == ["prj_a", "prj_b"])
        #expect(inherited.expiresAt == now + 3600)
        #expect(inherited.maxServerBudget == MicroDollars(5_000_000))
        let narrower = try service.bound(NewAPIKey(name: "c", scopes: [.projectsRead], projectIDs: ["prj_a"],
                                                   expiresAt: now + 60, maxServerBudget: MicroDollars(1)), by: parent)
        #expect(narrower.projectIDs == ["prj_a"])
        for wider in [
            NewAPIKey(name: "c", scopes: [.projectsWrite]),
            NewAPIKey(name: "c", scopes: [.projectsRead], projectIDs: ["prj_c"]),
            NewAPIKey(name: "c", scopes: [.projectsRead], expiresAt: now + 7200),
            NewAPIKey(name: "c", scopes: [.projectsRead], maxServerBudget: MicroDollars(5_000_001)),
        ] {
            #expect(throws: DomainError.self) { try service.bound(wider, by: parent) }
        }
        // A total and a count: inherited, and never loosened.
        var bounded = parent
        bounded.maxTotalBudget = MicroDollars(20_000_000)
        bounded.maxServers = 3
        let child = try service.bound(NewAPIKey(name: "c", scopes: [.projectsRead]), by: bounded)
        #expect(child.maxTotalBudget == MicroDollars(20_000_000) && child.maxServers == 3)
        let tighter = try service.bound(NewAPIKey(name: "c", scopes: [.projectsRead], maxTotalBudget: MicroDollars(1), maxServers: 0),
                                        by: bounded)
        #expect(tighter.maxTotalBudget == MicroDollars(1) && tighter.maxServers == 0)
        #expect(throws: DomainError.self) {
            try service.bound(NewAPIKey(name: "c", scopes: [.projectsRead], maxTotalBudget: MicroDollars(20_000_001)), by: bounded)
        }
        #expect(throws: DomainError.self) { try service.bound(NewAPIKey(name: "c", scopes: [.projectsRead], maxServers: 4), by: bounded) }
        // A session's request passes through unchanged.
        let open = NewAPIKey(name: "c", scopes: Set(Scope.allCases))
        #expect(try service.bound(open, by: nil).scopes == open.scopes)
    }
}

/// Stand-ins for the pure-logic tests above, which never reach a store or hasher.
struct NoStore: Store {
    func write<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T { fatalError("unused") }
    func read<T: Sendable>(_ body: @Sendable (any StoreTransaction) async throws -> T) async throws -> T { fatalError("unused") }
}

struct NoHasher: PasswordHasher {
    func hash(_ password: String) async -> String { fatalError("unused") }
    func verify(_ password: String, hash: String) async -> Bool { fatalError("unused") }
}
