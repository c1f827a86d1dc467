/// A project's slug: the DNS label under the apps domain. Fixed for the project's life.
public enum Slug {
    /// Words a project may not take: they name the platform's own hosts or invite phishing.
    public static let reserved: Set<String> = [
        "api", "app", "apps", "www", "admin", "administrator", "dashboard", "console", "mcp",
        "static", "assets", "cdn", "status", "health", "metrics", "mail", "smtp", "imap", "ftp",
        "root", "s4a", "server4agent", "localhost", "login", "signin", "signup", "auth", "oauth",
        "support", "help", "docs", "billing", "security", "account", "accounts", "internal",
    ]

    /// Why `slug` is not acceptable, or nil when it is.
    public static func problem(with slug: String) -> String? {
        guard (3...40).contains(slug.count) else { return "must be 3 to 40 characters" }
        guard slug.allSatisfy({ ("a"..."z").contains($0) || $0.isASCIIDigit || $0 == "-" }) else {
            return "may contain only a-z, 0-9 and '-'"
        }
        guard slug.first != "-", slug.last != "-" else { return "may not start or end with '-'" }
        guard !slug.contains("--") else { return "may not contain '--'" }
        guard !reserved.contains(slug) else { return "is reserved" }
        return nil
    }

    /// A slug derived from a project name, with a random suffix so it is very likely free.
    public static func generate(from name: String) -> String {
        var base = ""
        for ch in name.lowercased() {
            if ("a"..."z").contains(ch) || ch.isASCIIDigit { base.append(ch) }
            else if !base.isEmpty, base.last != "-" { base.append("-") }
        }
        while base.hasSuffix("-") { base.removeLast() }
        base = String(base.prefix(30))
        while base.hasSuffix("-") { base.removeLast() }
        let suffix = RandomToken.string(count: 6, alphabet: RandomToken.base32)
        return base.isEmpty ? "project-\(suffix)" : "\(base)-\(suffix)"
    }
}
