import HTTPTypes
import S4AWeb
import Testing

/// The session cookie goes out as Hummingbird's `Cookie`, always spelled alike, and is read back
/// with Hummingbird's `Cookies`.
@Suite struct SessionCookieTests {
    @Test func itIsAHostOnlyCookieSpelledTheSameEveryTime() {
        #expect(SessionCookie.header(value: "s4s_abc", maxAge: 604_800)
                == "__Host-s4a_session=s4s_abc; Path=/; Max-Age=604800; HttpOnly; Secure; SameSite=Lax")
        #expect(SessionCookie.header(value: "", maxAge: 0)
                == "__Host-s4a_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax")
        #expect(SessionCookie.setCookie("__Host-x", "v", maxAge: nil, sameSite: .strict)
                == "__Host-x=v; Path=/; HttpOnly; Secure; SameSite=Strict")
    }

    @Test func itIsReadFromAnyCookieHeader() {
        var fields = HTTPFields()
        #expect(SessionCookie.value(in: fields) == nil)
        fields.append(HTTPField(name: .cookie, value: "theme=dark"))
        fields.append(HTTPField(name: .cookie, value: "a=1;  __Host-s4a_session=s4s_tok; b=2"))
        #expect(SessionCookie.value(in: fields) == "s4s_tok")
        #expect(SessionCookie.value(named: "theme", in: fields) == "dark")
        #expect(SessionCookie.value(named: "__Host-s4a", in: fields) == nil)  // a prefix is not a name
        #expect(SessionCookie.value(in: [.cookie: "__Host-s4a_session="]) == nil)  // cleared
    }
}
