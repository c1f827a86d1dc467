import HTTPTypes
import Hummingbird

/// The browser session's cookie, shared by the API (`POST /v1/sessions`) and the dashboard's
/// sign-in form, so that one sign-in serves both. `__Host-`: browsers accept it only from this
/// host, with Secure, Path=/ and no Domain, so an app under the apps domain (code an agent
/// wrote) cannot plant a session of its choosing on the API host.
public enum SessionCookie {
    public static let name = "__Host-s4a_session"

    /// HttpOnly (no script reads it), Secure (TLS only), SameSite=Lax (not sent on cross-site posts).
    public static func header(value: String, maxAge: Int) -> String {
        setCookie(name, value, maxAge: maxAge, sameSite: .lax)
    }

    /// A `Set-Cookie` for one of our `__Host-` cookies (the session, the CSRF token, the flash):
    /// browsers keep such a cookie only with Secure, Path=/ and no Domain, so all are made here.
    /// Without `maxAge` it lasts as long as the browser session.
    public static func setCookie(_ name: String, _ value: String, maxAge: Int?, sameSite: Cookie.SameSite) -> String {
        render(Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: true, httpOnly: true, sameSite: sameSite))
    }

    /// Hummingbird's `Cookie` as a `Set-Cookie` value, its attributes always in one order (its
    /// own `description` follows a dictionary's, which changes from one process to the next).
    static func render(_ cookie: Cookie) -> String {
        var text = "\(cookie.name)=\(cookie.value)"
        if let path = cookie.path { text += "; Path=\(path)" }
        if let domain = cookie.domain { text += "; Domain=\(domain)" }
        if let maxAge = cookie.maxAge { text += "; Max-Age=\(maxAge)" }
        if cookie.httpOnly { text += "; HttpOnly" }
        if cookie.secure { text += "; Secure" }
        if let sameSite = cookie.sameSite { text += "; SameSite=\(sameSite.rawValue)" }
        return text
    }

    /// The value of cookie `name` in the request's `Cookie` headers (Hummingbird's `Cookies`);
    /// nil when absent or empty.
    public static func value(named cookie: String = name, in fields: HTTPFields) -> String? {
        guard let value = Cookies(from: fields[values: .cookie])[cookie]?.value, !value.isEmpty else { return nil }
        return value
    }
}
