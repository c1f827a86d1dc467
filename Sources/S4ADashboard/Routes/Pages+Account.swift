import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain
import S4AWeb

extension Pages {
    func addAccount() {
        get("/account") { visit in
            let account = try await services.accounts.account(visit.principal)
            let usage = try await services.usage.account(visit.principal)
            return .view("account", AccountPage(
                title: "Account", email: account.email, created: Format.time(account.createdAt),
                limit: account.spendingLimit.map(Format.money) ?? "none", charged: Format.money(usage.total.charged)))
        }
        post("/account/password", back: { _ in "/account" }) { visit in
            guard let new = visit.form["new_password"], new == visit.form["new_password_again"] else {
                throw DomainError.invalid("new_password", "and its repetition differ")
            }
            try await services.accounts.changePassword(visit.principal, current: visit.form["current_password"] ?? "", new: new)
            return .redirect("/account", .ok("Password changed."))
        }
        post("/account/limit", back: { _ in "/account" }) { visit in
            let limit = try visit.form.money("spending_limit_usd")
            _ = try await services.servers.setSpendingLimit(visit.principal, limit, confirmed: visit.form["confirm"] == "on")
            return .redirect("/account", .ok(limit.map { "Spending limit set to \(Format.money($0))." } ?? "Spending limit removed."))
        }
        post("/account/export", back: { _ in "/account" }) { visit in
            let (token, expiresAt) = try await services.exports.create(visit.principal, password: visit.form["password"] ?? "",
                                                                       includeFiles: visit.form["include_files"] == "on")
            // The link is the credential (once, for minutes): shown on this answer only.
            return .view("export_ready", ExportReadyPage(title: "Export ready", url: "/v1/exports/\(token)",
                                                         expires: Format.time(expiresAt)), status: .created)
        }
        get("/account/delete") { visit in
            let account = try await services.accounts.account(visit.principal)
            return .view("account_delete", AccountDeletePage(title: "Delete account", email: account.email))
        }
        post("/account/delete", back: { _ in "/account/delete" }) { visit in
            let account = try await services.accounts.account(visit.principal)
            try visit.requireTyped("confirm_email", equals: account.email, "the account's email")
            let finished = try await services.deletion.delete(visit.principal, password: visit.form["password"] ?? "")
            var response = Response(status: .seeOther, headers: [.location: "/signin"])
            response.headers.append(HTTPField(name: .setCookie, value: SessionCookie.header(value: "", maxAge: 0)))
            let text = finished ? "Your account, its servers, disks and data keys are deleted."
                : "Your account is being deleted; its sessions and keys already fail and the rest finishes shortly."
            response.headers.append(HTTPField(name: .setCookie, value: Flash.ok(text).setCookie))
            return .response(response)
        }
    }
}
