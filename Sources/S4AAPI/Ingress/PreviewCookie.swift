import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain

/// The preview grant as it travels on a project's own host (see `PreviewGrants`): started by a
/// redirect to the API host, taken from the query into a host-only cookie, read on each
/// request, and stripped before anything reaches the app.
enum PreviewCookie {
    /// `/.s4a/open` on any project host: to the API host, which checks the session. The same
    /// answer for every name, so it tells nobody which exist.
    static func start(apiURL: String, slug: String) -> Response {
        Response(status: .seeOther, headers: [.location: "\(apiURL)/preview/\(slug)", .cacheControl: "no-store"])
    }

    /// The cookie is host-only (no Domain), so it goes to this project's host and no other;
    /// HttpOnly, so the app's pages cannot read it; it lasts as long as the grant.
    static func accept(_ token: String, grant: PreviewGrant, now: Date = Date()) -> Response {
        let maxAge = max(0, Int(grant.expiresAt.timeIntervalSince(now)))
        return Response(status: .seeOther, headers: [
            .location: "/", .cacheControl: "no-store", HTTPField.Name("Referrer-Policy")!: "no-referrer",
            .setCookie: "\(PreviewGrants.cookieName)=\(token); Path=/; Max-Age=\(maxAge); Secure; HttpOnly; SameSite=Lax",
        ])
    }

    /// The first genuine grant for `slug` among the request's cookies.
    static func grant(in fields: HTTPFields, slug: String, previews: PreviewGrants) -> PreviewGrant? {
        for value in fields[values: .cookie] {
            for pair in value.split(separator: ";") {
                let (name, token) = split(pair)
                if name == PreviewGrants.cookieName, let grant = previews.check(token, slug: slug) { return grant }
            }
        }
        return nil
    }

    /// The request's cookies without the grant (the other cookies are the app's own).
    static func strip(_ fields: HTTPFields) -> HTTPFields {
        let values = fields[values: .cookie]
        guard values.contains(where: { $0.contains(PreviewGrants.cookieName) }) else { return fields }
        var kept = fields
        kept[.cookie] = nil
        for value in values {
            let pairs = value.split(separator: ";").filter { split($0).name != PreviewGrants.cookieName }
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if !pairs.isEmpty { kept.append(HTTPField(name: .cookie, value: pairs.joined(separator: "; "))) }
        }
        return kept
    }

    private static func split(_ pair: Substring) -> (name: String, value: String) {
        let trimmed = pair.trimmingCharacters(in: .whitespaces)
        guard let equals = trimmed.firstIndex(of: "=") else { return (trimmed, "") }
        return (String(trimmed[..<equals]), String(trimmed[trimmed.index(after: equals)...]))
    }
}
