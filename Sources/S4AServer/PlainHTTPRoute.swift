import S4AAPI

/// What the plain-HTTP listener does with a request: answer an ACME HTTP-01 challenge,
/// send the client to the same URL over HTTPS, or 404. Only the API host and project URLs
/// (`<slug>.<apps-domain>`) are redirected: any other Host gets 404, so the listener is
/// never an open redirect to somebody else's host.
enum PlainHTTPRoute: Equatable {
    case challenge(token: String)
    case redirect(location: String)
    case notFound

    static let challengePrefix = "/.well-known/acme-challenge/"

    static func route(method: String, authority: String?, path: String?, apiHost: String, appsDomain: String,
                      httpsPort: Int) -> PlainHTTPRoute {
        guard let host = servedHost(authority, apiHost: apiHost, appsDomain: appsDomain) else { return .notFound }
        let path = path ?? "/"
        if path.hasPrefix(challengePrefix), method == "GET" || method == "HEAD" {
            var token = Substring(path.dropFirst(challengePrefix.count))
            if let query = token.firstIndex(of: "?") { token = token[..<query] }
            return isToken(token) ? .challenge(token: String(token)) : .notFound
        }
        let port = httpsPort == 443 ? "" : ":\(httpsPort)"
        // Origin-form only: an absolute-form or `*` target redirects to the root.
        let target = path.hasPrefix("/") ? path : "/"
        return .redirect(location: "https://\(host)\(port)\(target)")
    }

    /// The Host without its port, lowercased, when it is the API host or one project URL's
    /// host; nil for anything else (foreign names, the bare apps domain, deeper names, odd
    /// characters that could turn the Location into another host's URL).
    static func servedHost(_ authority: String?, apiHost: String, appsDomain: String) -> String? {
        guard var host = authority?.lowercased(), !host.isEmpty else { return nil }
        if host.hasPrefix("[") {
            // An IPv6 literal: served only when it is the API host.
            guard let close = host.firstIndex(of: "]") else { return nil }
            let literal = host[host.index(after: host.startIndex)..<close]
            let rest = host[host.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isASCIIDigit) && rest.count > 1),
                  literal == apiHost.lowercased() else { return nil }
            return "[\(literal)]"
        }
        if let colon = host.lastIndex(of: ":") {
            let port = host[host.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isASCIIDigit) else { return nil }
            host = String(host[..<colon])
        }
        if host.hasSuffix(".") { host.removeLast() }
        guard !host.isEmpty, host.allSatisfy({ $0.isHostCharacter }) else { return nil }
        if host == apiHost.lowercased() { return host }
        if case .app = IngressHost.classify(host, appsDomain: appsDomain) { return host }
        return nil
    }

    /// RFC 8555 §8.3: a token is base64url, no padding.
    static func isToken<S: StringProtocol>(_ text: S) -> Bool {
        !text.isEmpty && text.count <= 256
            && text.allSatisfy { $0.isASCIIDigit || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || $0 == "-" || $0 == "_" }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
    fileprivate var isHostCharacter: Bool { ("a"..."z").contains(self) || ("0"..."9").contains(self) || self == "-" || self == "." }
}
