import Foundation

/// What servers may spend: a server's cap, the account's spending limit, a key's bounds.
extension ServerService {
    /// Sets the budget cap: within the key's ceiling, and never below what is already spent
    /// (money spent is not given back by lowering the cap). A running server's lease is
    /// re-planned under the new cap and its keeper told before the change commits.
    public func setBudget(_ principal: Principal, id: String, budget: MicroDollars) async throws -> Server {
        try principal.check(.scope(.budgetWrite))
        guard budget.value > 0 else { throw DomainError.invalid("budget_usd", "must be more than zero") }
        if let ceiling = principal.apiKey?.maxServerBudget, budget > ceiling {
            throw DomainError(.forbidden, "This key may set budgets up to \(ceiling.decimal) USD.")
        }
        return try await locks.withLock(id) {
            let now = env.now()
            return try await env.store.write { tx in
                try await tx.lockAccount(id: principal.accountID)
                var server = try await tx.reachableServer(id, by: principal)
                let running = server.state == .running ? budgets : nil
                // A running server's lease holds the rest of its cap: what it used so far is
                // charged first, so that the floor is what is really spent.
                let balance: LedgerBalance
                if let running {
                    balance = try await running.settleNow(tx, server)
                } else {
                    balance = try await tx.ledger.ledgerBalance(serverID: server.id)
                }
                let committed = MicroDollars(balance.charged.value + balance.reserved.value)
                guard budget >= committed else {
                    throw DomainError.unprocessable("budget_usd", "must be at least \(committed.decimal), already charged and reserved")
                }
                let previous = server.budget
                if budget > previous {
                    let raise = MicroDollars(budget.value - previous.value)
                    try await Self.checkSpendingLimit(tx, accountID: principal.accountID, adding: raise)
                    try await Self.checkKeyBounds(tx, principal, adding: raise, servers: 0, raising: server)
                }
                server.budget = budget
                server.updatedAt = now
                try await tx.servers.update(server)
                try await running?.replan(tx, server)
                try await tx.activity.append(
                    ActivityRecord(action: Action.serverBudgetChanged, actor: principal.actor,
                                   target: Target(type: "server", id: server.id), projectID: server.projectID,
                                   metadata: ["from": previous.decimal, "to": budget.decimal]),
                    accountID: principal.accountID, at: now)
                return server
            }
        }
    }

    /// Sets (or with nil removes) what all the account's servers together may ever spend. A
    /// limit below what is already committed needs `confirmed` (it says what it will stop): it
    /// stops new caps and raises, and each running server's lease is re-planned under it, its
    /// keeper told before the change commits.
    public func setSpendingLimit(_ principal: Principal, _ limit: MicroDollars?, confirmed: Bool = false) async throws -> Account {
        try principal.check(.session)
        // The running servers' locks, taken in one order (no deadlock with another change of the
        // limit), so that no metering round or start hands a keeper a deadline from the old
        // limit after this one. A server started meanwhile means another try with its lock too.
        for _ in 0..<5 {
            let running = try await env.store.read { tx in try await tx.servers.liveServers(accountID: principal.accountID) }
                .filter { $0.state == .running }.map(\.id).sorted()
            if let account = try await locks.withLocks(running, {
                try await applySpendingLimit(principal, limit, confirmed: confirmed, holding: Set(running))
            }) {
                return account
            }
        }
        throw DomainError(.conflict, "Servers kept starting while the limit changed; try again.")
    }

    /// nil when a running server's lock is not among `held` (it started since they were taken).
    private func applySpendingLimit(_ principal: Principal, _ limit: MicroDollars?, confirmed: Bool,
                                    holding held: Set<String>) async throws -> Account? {
        let now = env.now()
        let budgets = self.budgets
        return try await env.store.write { tx -> Account? in
            try await tx.lockAccount(id: principal.accountID)
            guard var account = try await tx.accounts.account(id: principal.accountID) else { throw DomainError.unauthenticated }
            let running = try await tx.servers.liveServers(accountID: account.id).filter { $0.state == .running }
            guard running.allSatisfy({ held.contains($0.id) }) else { return nil }
            if let limit, !confirmed {
                let committed = try await tx.ledger.committedBudget(accountID: account.id)
                if limit < committed {
                    let charged = try await tx.ledger.ledgerBalance(accountID: account.id).charged
                    let servers = running.count == 1 ? "1 running server" : "\(running.count) running servers"
                    let effect = running.isEmpty ? "No server runs now."
                        : limit <= charged ? "It stops \(servers) now: the account has already spent \(charged.decimal) USD."
                        : "It stops no server now; \(servers) stop once the account's spending reaches it "
                            + "(\(charged.decimal) USD spent so far)."
                    throw DomainError(.confirmationRequired, "A spending limit of \(limit.decimal) USD is below the \(committed.decimal) USD "
                                      + "your servers may spend (their caps plus what deleted servers were charged). \(effect) "
                                      + "Send confirm: true (s4a account limit --yes) to set it.")
                }
            }
            let previous = account.spendingLimit
            account.spendingLimit = limit
            try await tx.accounts.setSpendingLimit(accountID: account.id, limit: limit)
            for server in running { try await budgets.replan(tx, server) }
            try await tx.activity.append(
                ActivityRecord(action: Action.accountSpendingLimitChanged, actor: principal.actor,
                               target: Target(type: "account", id: account.id),
                               metadata: ["from": previous?.decimal ?? "none", "to": limit?.decimal ?? "none"]),
                accountID: account.id, at: now)
            return account
        }
    }

    /// Throws unless the account's spending limit (if any) leaves room for `adding` more in caps.
    /// Call with the account locked, so that concurrent creates and raises take turns.
    static func checkSpendingLimit(_ tx: any StoreTransaction, accountID: String, adding: MicroDollars) async throws {
        guard let limit = try await tx.accounts.account(id: accountID)?.spendingLimit else { return }
        let committed = try await tx.ledger.committedBudget(accountID: accountID)
        guard committed.value + adding.value <= limit.value else {
            let room = MicroDollars(max(0, limit.value - committed.value))
            throw DomainError.unprocessable("budget_usd", "passes the account's spending limit of \(limit.decimal) USD "
                                            + "(\(room.decimal) USD left for caps)")
        }
    }

    /// Throws unless every bounded key from the caller's up to the first one made by a person
    /// leaves room for `adding` more in caps and `servers` more servers: a key's total covers
    /// what the keys it made create. A bounded key may raise only the caps of servers its own
    /// tree created (others' caps are outside its total). Call with the account locked.
    static func checkKeyBounds(_ tx: any StoreTransaction, _ principal: Principal, adding: MicroDollars, servers: Int,
                               raising server: Server? = nil) async throws {
        // The keys whose trees hold the raised server: its creator and the keys above it.
        var holders: Set<String> = []
        var up = server?.createdByKeyID
        while let id = up, !holders.contains(id) {
            holders.insert(id)
            up = try await tx.keys.apiKey(id: id, accountID: principal.accountID)?.parentKeyID
        }
        var next = principal.apiKey
        while let key = next {
            if key.maxTotalBudget != nil || key.maxServers != nil {
                if server != nil, key.maxTotalBudget != nil, !holders.contains(key.id) {
                    throw DomainError(.forbidden, "Key \(key.name) bounds its servers' total, and this server is not one of them: "
                                      + "it may not raise its budget.")
                }
                let committed = try await tx.keys.keyCommitment(keyID: key.id)
                if let total = key.maxTotalBudget, committed.budget.value + adding.value > total.value {
                    let room = MicroDollars(max(0, total.value - committed.budget.value))
                    throw DomainError.unprocessable("budget_usd", "passes key \(key.name)'s total of \(total.decimal) USD "
                                                    + "(\(room.decimal) USD left; deleting a server frees its cap but not what it spent)")
                }
                if let count = key.maxServers, committed.servers + servers > count {
                    throw DomainError(.forbidden, "Key \(key.name) may have \(count) servers at a time, and has \(committed.servers); "
                                      + "delete one first.")
                }
            }
            if let parent = key.parentKeyID { next = try await tx.keys.apiKey(id: parent, accountID: key.accountID) } else { next = nil }
        }
    }
}
