import HTTPTypes
import S4AWeb
import Testing

/// One origin policy for every request that rides the session cookie, strict as each kind of
/// request allows: a form may come from an old browser that says nothing (its CSRF token
/// decides), an API write must show where it came from, a WebSocket always has an Origin.
@Suite struct OriginPolicyTests {
    let policy = OriginPolicy(trustedOrigins: ["https://localhost:8443", "https://api.example"])

    func fields(origin: String? = nil, site: String? = nil) -> HTTPFields {
        var fields = HTTPFields()
        if let origin { fields[.origin] = origin }
        if let site { fields[HTTPField.Name("Sec-Fetch-Site")!] = site }
        return fields
    }

    @Test func ourOriginPassesEverywhere() {
        let ours = fields(origin: "https://api.example", site: "same-origin")
        #expect(policy.allowsForm(ours) && policy.allowsCookieWrite(ours) && policy.allowsCookieUpgrade(ours))
    }

    @Test func anotherSiteIsRefusedEverywhere() {
        for foreign in [fields(origin: "https://evil.example"), fields(origin: "https://evil.example", site: "same-origin"),
                        fields(origin: "null"), fields(origin: "https://localhost:8443.evil.example")] {
            #expect(!policy.allowsForm(foreign) && !policy.allowsCookieWrite(foreign) && !policy.allowsCookieUpgrade(foreign))
        }
        #expect(!policy.allowsForm(fields(site: "cross-site")) && !policy.allowsCookieWrite(fields(site: "cross-site")))
    }

    @Test func withoutAnOriginEachKindAsksWhatItCan() {
        // An old browser's form: the CSRF token decides.
        #expect(policy.allowsForm(fields()))
        #expect(policy.allowsForm(fields(site: "same-origin")))
        // An API write needs the browser's word that it is same-origin.
        #expect(!policy.allowsCookieWrite(fields()))
        #expect(policy.allowsCookieWrite(fields(site: "same-origin")))
        #expect(!policy.allowsCookieWrite(fields(site: "same-site")))
        // Browsers send Origin on every WebSocket.
        #expect(!policy.allowsCookieUpgrade(fields()))
        #expect(!policy.allowsCookieUpgrade(fields(site: "same-origin")))
    }
}
