import Foundation
import S4AContract
import S4ADomain
import S4AWeb

extension APIHandler {
    func createAccount(_ input: Operations.CreateAccount.Input) async throws -> Operations.CreateAccount.Output {
        guard case .json(let credentials) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        try await accounts.signUp(email: credentials.email, password: credentials.password)
        return .created(.init(body: .json(.init(email: Email.normalize(credentials.email),
                                                next: "Sign in with POST /v1/sessions."))))
    }

    func getAccount(_ input: Operations.GetAccount.Input) async throws -> Operations.GetAccount.Output {
        let account = try await accounts.account(try RequestScope.requirePrincipal())
        return .ok(.init(body: .json(Self.contract(account))))
    }

    func updateAccount(_ input: Operations.UpdateAccount.Input) async throws -> Operations.UpdateAccount.Output {
        guard case .json(let body) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let limit = try Self.money(body.spendingLimitUsd, field: "spending_limit_usd")
        let account = try await servers.setSpendingLimit(try RequestScope.requirePrincipal(), limit, confirmed: body.confirm ?? false)
        return .ok(.init(body: .json(Self.contract(account))))
    }

    func deleteSpendingLimit(_ input: Operations.DeleteSpendingLimit.Input) async throws -> Operations.DeleteSpendingLimit.Output {
        let account = try await servers.setSpendingLimit(try RequestScope.requirePrincipal(), nil)
        return .ok(.init(body: .json(Self.contract(account))))
    }

    static func contract(_ account: Account) -> Components.Schemas.Account {
        .init(id: account.id, email: account.email, createdAt: account.createdAt, spendingLimitUsd: account.spendingLimit?.decimal)
    }

    func changePassword(_ input: Operations.ChangePassword.Input) async throws -> Operations.ChangePassword.Output {
        guard case .json(let change) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        try await accounts.changePassword(try RequestScope.requirePrincipal(), current: change.currentPassword,
                                          new: change.newPassword)
        return .noContent(.init())
    }

    func createSession(_ input: Operations.CreateSession.Input) async throws -> Operations.CreateSession.Output {
        guard case .json(let credentials) = input.body else { throw DomainError.invalid("body", "must be JSON") }
        let signIn = try await accounts.signIn(email: credentials.email, password: credentials.password,
                                               clientAddress: RequestScope.clientAddress)
        let maxAge = Int(signIn.session.expiresAt.timeIntervalSince(signIn.session.createdAt))
        return .created(.init(
            headers: .init(setCookie: SessionCookie.header(value: signIn.token, maxAge: maxAge)),
            body: .json(.init(token: signIn.token, expiresAt: signIn.session.expiresAt))))
    }

    func deleteCurrentSession(_ input: Operations.DeleteCurrentSession.Input) async throws -> Operations.DeleteCurrentSession.Output {
        try await accounts.signOut(try RequestScope.requirePrincipal())
        return .noContent(.init(headers: .init(setCookie: SessionCookie.header(value: "", maxAge: 0))))
    }
}
