import Crypto
import Foundation
import HTTPTypes
import S4ADomain

/// Cross-site request forgery defence for the dashboard's forms: a double-submit token in a
/// `__Host-` cookie (which no other host, app subdomains included, can set or overwrite) that
/// every form repeats in a hidden field, plus the browser's own word on where a post came from
/// (the `OriginPolicy`).
public struct CSRFGuard: Sendable {
    public static let cookieName = "__Host-s4a_csrf"
    public static let fieldName = "_csrf"
    public let origins: OriginPolicy

    public init(origins: OriginPolicy) { self.origins = origins }

    /// The request's token, or a new one (then `setCookie` must go out with the answer).
    public func token(for fields: HTTPFields) -> (token: String, setCookie: String?) {
        if let existing = SessionCookie.value(named: Self.cookieName, in: fields), existing.count == 43 {
            return (existing, nil)
        }
        let token = RandomToken.bearer(prefix: "")
        return (token, SessionCookie.setCookie(Self.cookieName, token, maxAge: nil, sameSite: .strict))
    }

    /// Throws unless a state-changing request carries the cookie's token (`submitted`: the
    /// form's `fieldName` field) and came from our origin.
    public func check(_ fields: HTTPFields, submitted: String?) throws {
        guard origins.allowsForm(fields) else {
            throw DomainError(.forbidden, "This form was sent from another site.")
        }
        guard let cookie = SessionCookie.value(named: Self.cookieName, in: fields),
              let sent = submitted,
              Self.equal(cookie, sent) else {
            throw DomainError(.forbidden, "This form has expired or did not come from this site; reload the page and try again.")
        }
    }

    /// Compares digests, so the time taken says nothing about how much matched.
    static func equal(_ a: String, _ b: String) -> Bool {
        SHA256.hash(data: Data(a.utf8)) == SHA256.hash(data: Data(b.utf8))
    }
}
