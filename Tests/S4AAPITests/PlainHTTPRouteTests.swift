@testable import S4AServer
import Testing

/// The plain-HTTP listener's decisions: challenge, redirect to HTTPS, or 404.
struct PlainHTTPRouteTests {
    func route(_ authority: String?, _ path: String? = "/", method: String = "GET", httpsPort: Int = 8443) -> PlainHTTPRoute {
        PlainHTTPRoute.route(method: method, authority: authority, path: path, apiHost: "api.example.com",
                             appsDomain: "apps.example.com", httpsPort: httpsPort)
    }

    @Test func redirectsProjectURLsToTheSamePathAndQueryOverHTTPS() {
        #expect(route("shop-1.apps.example.com:8080", "/x?y=1") == .redirect(location: "https://shop-1.apps.example.com:8443/x?y=1"))
        #expect(route("Shop-1.Apps.Example.com.", "/") == .redirect(location: "https://shop-1.apps.example.com:8443/"))
        #expect(route("shop-1.apps.example.com", "/a/b", method: "POST")
            == .redirect(location: "https://shop-1.apps.example.com:8443/a/b"))
    }

    @Test func omitsPort443AndKeepsOthers() {
        #expect(route("api.example.com:80", "/v1/x", httpsPort: 443) == .redirect(location: "https://api.example.com/v1/x"))
        #expect(route("api.example.com", "/", httpsPort: 8443) == .redirect(location: "https://api.example.com:8443/"))
    }

    @Test func foreignAndMalformedHostsGet404() {
        #expect(route("evil.example.net", "/") == .notFound)
        #expect(route(nil, "/") == .notFound)
        #expect(route("", "/") == .notFound)
        #expect(route("apps.example.com") == .notFound)  // the bare apps domain
        #expect(route("a.b.apps.example.com") == .notFound)  // deeper than one label
        #expect(route("evil/@x.apps.example.com") == .notFound)  // would make the Location another host's URL
        #expect(route("x.apps.example.com:80x") == .notFound)
        #expect(route("api.example.com.evil.net") == .notFound)
        #expect(route("[::1]:80") == .notFound)
    }

    @Test func originFormOnly() {
        #expect(route("api.example.com", "*", method: "OPTIONS") == .redirect(location: "https://api.example.com:8443/"))
        #expect(route("api.example.com", "//evil.net/x") == .redirect(location: "https://api.example.com:8443//evil.net/x"))
    }

    @Test func challengesForServedHosts() {
        #expect(route("shop-1.apps.example.com", "/.well-known/acme-challenge/abc_DEF-123") == .challenge(token: "abc_DEF-123"))
        #expect(route("api.example.com", "/.well-known/acme-challenge/tok?x=1", method: "HEAD") == .challenge(token: "tok"))
        #expect(route("api.example.com", "/.well-known/acme-challenge/../etc") == .notFound)
        #expect(route("api.example.com", "/.well-known/acme-challenge/") == .notFound)
        #expect(route("evil.example.net", "/.well-known/acme-challenge/tok") == .notFound)
        // Not a GET: not a validation request, so it is redirected like anything else.
        #expect(route("api.example.com", "/.well-known/acme-challenge/tok", method: "POST")
            == .redirect(location: "https://api.example.com:8443/.well-known/acme-challenge/tok"))
    }

    @Test func ipv6APIHost() {
        let result = PlainHTTPRoute.route(method: "GET", authority: "[::1]:80", path: "/v1", apiHost: "::1",
                                          appsDomain: "apps.example.com", httpsPort: 8443)
        #expect(result == .redirect(location: "https://[::1]:8443/v1"))
    }
}
