import Foundation
import HTTPTypes
@testable import S4ADashboard
import S4ADomain
import S4AWeb
import Testing

@Suite struct BrowserDefenceTests {
    let guardian = CSRFGuard(origins: OriginPolicy(trustedOrigins: ["https://localhost:8443"]))

    /// What the dashboard checks of a post: the form's `_csrf` field against the cookie.
    func check(_ fields: HTTPFields, form: FormData) throws {
        try guardian.check(fields, submitted: form[CSRFGuard.fieldName])
    }

    func fields(cookie: String?, origin: String? = nil, site: String? = nil) -> HTTPFields {
        var fields = HTTPFields()
        if let cookie { fields[.cookie] = "__Host-s4a_session=s4s_x; \(CSRFGuard.cookieName)=\(cookie)" }
        if let origin { fields[.origin] = origin }
        if let site { fields[HTTPField.Name("Sec-Fetch-Site")!] = site }
        return fields
    }

    @Test func everyCookieIsAHostCookie() {
        // `__Host-`: kept by browsers only with Secure, Path=/ and no Domain.
        #expect(SessionCookie.header(value: "s4s_x", maxAge: 60)
                == "__Host-s4a_session=s4s_x; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax")
        #expect(Flash.clearCookie == "__Host-s4a_flash=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")
        let csrf = guardian.token(for: HTTPFields())
        #expect(csrf.setCookie == "__Host-s4a_csrf=\(csrf.token); Path=/; HttpOnly; Secure; SameSite=Strict")
        for cookie in [Flash.ok("saved").setCookie, csrf.setCookie ?? ""] {
            #expect(cookie.hasPrefix("__Host-") && !cookie.contains("Domain"))
        }
    }

    @Test func aNewVisitorGetsAHostOnlyTokenCookie() {
        let (token, setCookie) = guardian.token(for: HTTPFields())
        #expect(token.count == 43)
        let cookie = try? #require(setCookie)
        #expect(cookie?.hasPrefix("__Host-s4a_csrf=\(token);") == true)
        for attribute in ["Path=/", "HttpOnly", "Secure", "SameSite=Strict"] { #expect(cookie?.contains(attribute) == true) }
        #expect(cookie?.contains("Domain") == false)  // __Host- cookies may not name one
        // The same visitor keeps its token.
        let again = guardian.token(for: fields(cookie: token))
        #expect(again.token == token && again.setCookie == nil)
    }

    @Test func aPostNeedsTheCookiesTokenInTheFormAndOurOrigin() throws {
        let token = String(repeating: "a", count: 43)
        let good = FormData(pairs: [("_csrf", token)])
        try check(fields(cookie: token, origin: "https://localhost:8443", site: "same-origin"), form: good)
        try check(fields(cookie: token), form: good)  // an old browser that sends neither header
        #expect(throws: DomainError.self) { try check(fields(cookie: token), form: FormData(pairs: [])) }
        #expect(throws: DomainError.self) {
            try check(fields(cookie: token), form: FormData(pairs: [("_csrf", String(repeating: "b", count: 43))]))
        }
        #expect(throws: DomainError.self) { try check(fields(cookie: nil), form: good) }
        #expect(throws: DomainError.self) { try check(fields(cookie: token, origin: "https://evil.example"), form: good) }
        #expect(throws: DomainError.self) { try check(fields(cookie: token, site: "cross-site"), form: good) }
    }

    @Test func aFlashSurvivesItsCookieAndCannotInjectAttributes() throws {
        let flash = Flash.error("Bad; Domain=evil; \"quoted\" <b>")
        let value = try #require(flash.setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last)
        #expect(!value.contains(";") && !value.contains(" "))
        let back = try #require(Flash(cookie: String(value)))
        #expect(back.kind == .error && back.text == flash.text)
        // Letters of other scripts are percent-encoded too: a cookie value is ASCII.
        let accented = Flash.ok("Projet « Café » créé — 東京")
        #expect(accented.setCookie.allSatisfy { $0.isASCII })
        let name = try #require(accented.setCookie.split(separator: ";").first?.split(separator: "=", maxSplits: 1).last)
        #expect(Flash(cookie: String(name))?.text == accented.text)
    }

    @Test func chartsCarryOnlyNumbersAndEscapedLabels() {
        let since = Date(timeIntervalSince1970: 1_800_000_000), until = since.addingTimeInterval(600)
        let points = [(since, 0.0), (since.addingTimeInterval(300), 1), (until, 0.5)].map { (at: $0.0, value: $0.1) }
        let svg = SVGChart(title: "CPU <script>", points: points, since: since, until: until, format: { "\($0)" }).svg
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        #expect(!svg.contains("<script>") && svg.contains("CPU &lt;script&gt;"))
        // Zero on the axis, the scale's top (1) at the top, each point at its time.
        #expect(svg.contains("<polyline class=\"line\" points=\"8.0,120.0 300.0,24.0 592.0,72.0\"/>"))
        #expect(svg.contains("scale 0 to 1.0"))
        // The time axis: the window's start, middle and end.
        for tick in [">08:00<", ">08:05<", ">08:10<"] { #expect(svg.contains(tick)) }
    }

    @Test func chartsSayNoDataOnlyWithoutAPointAndScaleToRoundNumbers() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let empty = SVGChart(title: "Memory", points: [], since: now, until: now.addingTimeInterval(60), format: { "\($0)" }).svg
        #expect(empty.contains("no data"))
        let one = SVGChart(title: "Memory", points: [(at: now.addingTimeInterval(30), value: 0)], since: now,
                           until: now.addingTimeInterval(60), format: { "\($0)" }).svg
        #expect(!one.contains("no data") && one.contains("<circle"))
        #expect(SVGChart.roundUp(0) == 1 && SVGChart.roundUp(0.3) == 0.5 && SVGChart.roundUp(7) == 10)
        #expect(SVGChart.roundUp(1) == 1 && SVGChart.roundUp(1.2) == 2 && SVGChart.roundUp(2_500_000) == 5_000_000)
    }

    @Test func moneyIsShownWithoutRounding() {
        #expect(Format.money(MicroDollars(2_000_000)) == "$2.00")
        #expect(Format.money(MicroDollars(76)) == "$0.000076")
        #expect(Format.money(MicroDollars(1_230_000)) == "$1.23")
    }
}
