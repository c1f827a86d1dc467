import Foundation
import S4ADomain

/// Everything `s4a serve` is configured by (flags and `S4A_*` variables).
public struct ServeOptions: Sendable {
    public var dataDirectory: String = "./.s4a"
    public var listenHost: String = "127.0.0.1"
    public var listenPort: Int = 8443
    public var apiHost: String = "localhost"
    public var appsDomain: String = "apps.localhost"
    /// nil: the SQLite file in the data directory.
    public var databaseURL: String?
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    public var signupOpen = true
    public var bcryptCost: UInt8 = 12
    public var metricsToken: String?
    public var maxBodyBytes = 1 << 20
    /// The vault's master key: a file of base64 (default `<data-dir>/master.key`, generated at
    /// first start) or the base64 itself (`S4A_MASTER_KEY`), which wins.
    public var masterKeyFile: String?
    public var masterKeyBase64: String?
    /// Each project's shred key (crypto-shredding): default `<data-dir>/project-keys`. Keep it out
    /// of database backups, and shared by every replica of a PostgreSQL deployment.
    public var projectKeyDirectoryOverride: String?
    /// The longest prepaid lease (the keeper's horizon); a lease also ends where the server's
    /// budget does.
    public var leaseSeconds: Double = Double(BudgetSettings.defaultLeaseMilliseconds / 1000)
    /// The operator's prices.
    public var rateCard: RateCard = .standard
    /// Seconds between two usage samples of a running server.
    public var usageIntervalSeconds: Double = 5
    /// A request's head must arrive within this many seconds (slowloris), also the most an idle
    /// kept-alive connection waits for its next request.
    public var headerTimeoutSeconds: Double = 15
    /// Seconds between two health probes of a deployed app.
    public var probeIntervalSeconds: Double = 5
    /// Days log lines and usage samples are kept.
    public var retentionDays = 30
    /// The plain-HTTP listener (ACME HTTP-01 challenges, redirects to HTTPS); nil: none.
    public var httpListenHost: String?
    public var httpListenPort: Int?
    /// An ACME directory URL: certificates for the API host and public projects come from it.
    public var acmeDirectoryURL: URL?
    /// Extra trust roots (PEM file) for the ACME server's own TLS, e.g. pebble's.
    public var acmeCACertificatePath: String?
    public var acmeEmail: String?
    /// Seconds between two looks at which names lack a certificate.
    public var acmePollSeconds: Double = 3
    /// Extra trust roots (PEM file) for log drain endpoints, beside the system's.
    public var drainCAFile: String?
    /// Records each log drain holds while its endpoint is down or slow; more are dropped and counted.
    public var drainBufferRecords = DrainSettings().bufferCapacity
    /// Let drains send to loopback, private and link-local addresses (tests, on-premises collectors).
    public var drainAllowPrivate = false

    public init() {}

    public var sqlitePath: String { URL(fileURLWithPath: dataDirectory).appendingPathComponent("s4a.sqlite").path }
    public var defaultMasterKeyPath: String { URL(fileURLWithPath: dataDirectory).appendingPathComponent("master.key").path }
    public var projectKeyDirectory: String {
        projectKeyDirectoryOverride ?? URL(fileURLWithPath: dataDirectory).appendingPathComponent("project-keys").path
    }
    /// Where an export's JSON Lines wait for their size (emptied at start: a stop cuts exports short).
    public var exportSpoolDirectory: String { URL(fileURLWithPath: dataDirectory).appendingPathComponent("tmp/exports").path }
    public var tlsDirectory: URL { URL(fileURLWithPath: dataDirectory).appendingPathComponent("tls") }
    /// ACME certificates, their keys and the account key.
    public var acmeDirectory: URL { tlsDirectory.appendingPathComponent("acme") }
    /// Files here answer HTTP-01 challenges too (`<token>` → key authorization), as a
    /// webroot does for an ACME client run beside the control plane.
    public var acmeChallengeDirectory: URL { acmeDirectory.appendingPathComponent("challenges") }

    /// The port as it appears in URLs: omitted for 443.
    var portSuffix: String { listenPort == 443 ? "" : ":\(listenPort)" }
    public var apiURL: String { "https://\(apiHost)\(portSuffix)" }

    /// `https://<slug>.<apps-domain>`, with the listener's port unless it is 443.
    public func projectURL(slug: String) -> String { "https://\(slug).\(appsDomain)\(portSuffix)" }

    /// Parses `host:port` (`[::1]:8443` for IPv6).
    public mutating func setListen(_ text: String) throws {
        (listenHost, listenPort) = try Self.hostAndPort(text, flag: "--listen", example: "127.0.0.1:8443")
    }

    /// Parses the plain-HTTP listener's `host:port`.
    public mutating func setHTTPListen(_ text: String) throws {
        let (host, port) = try Self.hostAndPort(text, flag: "--http-listen", example: "0.0.0.0:80")
        httpListenHost = host
        httpListenPort = port
    }

    static func hostAndPort(_ text: String, flag: String, example: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { throw OptionError("\(flag) must be host:port, e.g. \(example)") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw OptionError("\(flag) needs a host") }
        return (host, port)
    }

    var budgetSettings: BudgetSettings {
        var settings = BudgetSettings()
        settings.leaseMilliseconds = Int64(leaseSeconds * 1000)
        settings.card = rateCard
        return settings
    }

    var domainSettings: DomainSettings {
        var settings = DomainSettings()
        settings.bcryptCost = bcryptCost
        settings.signupOpen = signupOpen
        let options = self
        settings.projectURL = { options.projectURL(slug: $0) }
        return settings
    }
}

public struct OptionError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
