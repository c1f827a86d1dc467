import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain

extension Pages {
    func addAccount() {
        get("/account") { visit in
            let account = try await services.accounts.account(visit.principal)
            let usage = try await services.usage.account(visit.principal)
            return .page("account", [
                "title": "Account", "email": account.email, "created": Format.time(account.createdAt),
                "limit": account.spendingLimit.map(Format.money) ?? "none",
                "charged": Format.money(usage.total.charged),
            ])
        }
        post("/account/password", back: { _ in "/account" }) { visit in
            guard let new = visit.form["new_password"], new == visit.form["new_password_again"] else {
                throw DomainError.invalid("new_password", "and its repetition differ")
            }
            try await services.accounts.changePassword(visit.principal, current: visit.form["current_password"] ?? "", new: new)
            return .redirect("/account", .ok("Password changed."))
        }
        post("/account/limit", back: { _ in "/account" }) { visit in
            var limit: MicroDollars?
            if let text = visit.form.text("spending_limit_usd") {
                guard let amount = MicroDollars(decimal: text) else {
                    throw DomainError.invalid("spending_limit_usd", "must be dollars with at most six decimals")
                }
                limit = amount
            }
            _ = try await services.accounts.setSpendingLimit(visit.principal, limit)
            return .redirect("/account", .ok(limit.map { "Spending limit set to \(Format.money($0))." } ?? "Spending limit removed."))
        }
    }
}
