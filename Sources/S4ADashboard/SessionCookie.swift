import HTTPTypes

/// The browser session's cookie, shared by the API (`POST /v1/sessions`) and the dashboard's
/// sign-in form, so that one sign-in serves both. `__Host-`: browsers accept it only from this
/// host, with Secure, Path=/ and no Domain, so an app under the apps domain (code an agent
/// wrote) cannot plant a session of its choosing on the API host.
public enum SessionCookie {
    public static let name = "__Host-s4a_session"

    /// HttpOnly (no script reads it), Secure (TLS only), SameSite=Lax (not sent on cross-site posts).
    public static func header(value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Lax"
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
