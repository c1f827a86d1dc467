/// Which side of the listener a request's Host names: the API (anything not under the apps
/// domain), a project's URL (`<slug>.<apps-domain>`, any port), or a name under the apps
/// domain that no project can have (answered like an unknown slug, touching no server).
public enum IngressHost: Equatable {
    case api
    case app(slug: String)
    case unknown

    public static func classify(_ authority: String?, appsDomain: String) -> IngressHost {
        guard var host = authority?.lowercased(), !host.isEmpty else { return .api }
        if host.hasPrefix("[") { return .api }  // an IPv6 literal is never a project's host
        if let colon = host.lastIndex(of: ":") {
            guard host[host.index(after: colon)...].allSatisfy(\.isASCIIDigit) else { return .unknown }
            host = String(host[..<colon])
        }
        if host.hasSuffix(".") { host.removeLast() }
        let domain = appsDomain.lowercased()
        if host == domain { return .unknown }
        guard host.hasSuffix("." + domain) else { return .api }
        let label = host.dropLast(domain.count + 1)
        guard !label.isEmpty, !label.contains(".") else { return .unknown }
        return .app(slug: String(label))
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
