import HTTPTypes

/// The browser session's cookie, shared by the API (`POST /v1/sessions`) and the dashboard's
/// sign-in form, so that one sign-in serves both. `__Host-`: browsers accept it only from this
/// host, with Secure, Path=/ and no Domain, so an app under the apps domain (code an agent
/// wrote) cannot plant a session of its choosing on the API host.
public enum SessionCookie {
    public static let name = "__Host-s4a_session"

    /// HttpOnly (no script reads it), Secure (TLS only), SameSite=Lax (not sent on cross-site posts).
    public static func header(value: String, maxAge: Int) -> String {
        setCookie(name, value, maxAge: maxAge, sameSite: "Lax")
    }

    /// A `Set-Cookie` for one of our `__Host-` cookies (the session, the CSRF token, the flash):
    /// browsers keep such a cookie only with Secure, Path=/ and no Domain, so all are made here.
    /// Without `maxAge` it lasts as long as the browser session.
    public static func setCookie(_ name: String, _ value: String, maxAge: Int?, sameSite: String) -> String {
        "\(name)=\(value); Path=/" + (maxAge.map { "; Max-Age=\($0)" } ?? "") + "; HttpOnly; Secure; SameSite=\(sameSite)"
    }

    /// The value of cookie `name` in the request's `Cookie` headers.
    public static func value(named cookie: String = name, in fields: HTTPFields) -> String? {
        for header in fields[values: .cookie] {
            for pair in header.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if kv.count == 2, kv[0] == cookie, !kv[1].isEmpty { return kv[1] }
            }
        }
        return nil
    }
}
