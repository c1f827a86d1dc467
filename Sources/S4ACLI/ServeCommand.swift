import ArgumentParser
import Foundation
import S4ADomain
import ServiceLifecycle
import Hummingbird
import Logging
import S4AServer

/// `s4a serve`: the control plane. Every flag also reads an `S4A_*` environment variable.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the control plane: REST API, dashboard and public URLs, over TLS.")

    @Option(help: "Where the database, TLS material and disks live (S4A_DATA_DIR).") var dataDir: String?
    @Option(help: "host:port to listen on (S4A_LISTEN).") var listen: String?
    @Option(help: "The API's host name (S4A_API_HOST).") var apiHost: String?
    @Option(help: "Projects are served at <slug>.<apps-domain> (S4A_APPS_DOMAIN).") var appsDomain: String?
    @Option(help: "postgres://… for a shared PostgreSQL store; default SQLite in the data dir (S4A_DATABASE_URL).")
    var databaseURL: String?
    @Option(help: "Operator certificate chain, PEM (S4A_TLS_CERT); default: the local CA issues one.") var tlsCert: String?
    @Option(help: "Operator private key, PEM (S4A_TLS_KEY).") var tlsKey: String?
    @Option(help: "open or closed (S4A_SIGNUP).") var signup: String?
    @Option(help: "bcrypt cost, 10…16 (S4A_BCRYPT_COST; default 12).") var bcryptCost: Int?
    @Option(help: "Token that lets off-host scrapers read /metrics (S4A_METRICS_TOKEN).") var metricsToken: String?
    @Option(help: "The vault's master key: a file of base64 (S4A_MASTER_KEY_FILE, or the base64 itself in S4A_MASTER_KEY). Default <data-dir>/master.key, made at first start: back it up.")
    var masterKeyFile: String?
    @Option(help: "Directory of each project's shred key, which account and project deletion destroy (S4A_PROJECT_KEY_DIR; default <data-dir>/project-keys). Keep it out of database backups: a backup of it undoes crypto-shredding.")
    var projectKeyDir: String?
    @Option(help: "The longest prepaid lease in seconds: how long a server's keeper lets it run with no control plane renewing it, unless its budget runs out sooner (S4A_LEASE_SECONDS; 1…2592000, default 2592000: 30 days).")
    var leaseSeconds: Double?
    @Option(help: "Price in µ$ per vCPU-second allocated, up to 3 decimals (S4A_PRICE_VCPU_SECOND; default 14).")
    var priceVcpuSecond: String?
    @Option(help: "Price in µ$ per GiB-second of memory allocated (S4A_PRICE_GIB_SECOND; default 4.5).")
    var priceGibSecond: String?
    @Option(help: "Price in µ$ per GiB of egress (S4A_PRICE_EGRESS_GIB; default 90000).") var priceEgressGib: String?
    @Option(help: "A JSON file of prices in µ$, e.g. {\"vcpu_second\": \"14\", \"gib_second\": \"4.5\", \"egress_gib\": \"90000\"} (S4A_PRICES_FILE); the price flags win over it.")
    var pricesFile: String?
    @Option(help: "Seconds between usage samples of each running server, 1…60 (S4A_USAGE_INTERVAL; default 5).")
    var usageInterval: Double?
    @Option(help: "Seconds a request's head may take to arrive, 1…300 (S4A_HEADER_TIMEOUT; default 15).")
    var headerTimeout: Double?
    @Option(help: "Seconds between health probes of each deployed app, 1…60 (S4A_PROBE_INTERVAL; default 5).")
    var probeInterval: Double?
    @Option(help: "Days log lines and usage samples are kept; older ones become anonymous daily totals (S4A_RETENTION_DAYS; default 30).")
    var retentionDays: Int?
    @Option(help: "host:port of a plain-HTTP listener that answers ACME HTTP-01 challenges and redirects everything else to HTTPS (S4A_HTTP_LISTEN; default off).")
    var httpListen: String?
    @Option(help: "An ACME directory URL: certificates for the API host and public projects come from it instead of the local CA (S4A_ACME_DIRECTORY; needs --http-listen).")
    var acmeDirectory: String?
    @Option(help: "PEM file of extra roots to trust for the ACME server's own TLS, e.g. pebble's (S4A_ACME_CA_CERT).")
    var acmeCaCert: String?
    @Option(help: "Contact email for the ACME account (S4A_ACME_EMAIL).") var acmeEmail: String?
    @Option(help: "PEM file of extra roots to trust for log drain endpoints, beside the system's (S4A_DRAIN_CA_FILE).")
    var drainCaFile: String?
    @Option(help: "Records each log drain buffers while its endpoint is down or slow, 10…1000000; more are dropped and counted (S4A_DRAIN_BUFFER; default 10000).")
    var drainBuffer: Int?
    @Flag(help: "Let log drains send to loopback, private and link-local addresses; refused by default so a drain cannot reach the host's or the network's internal services (S4A_DRAIN_ALLOW_PRIVATE=1).")
    var drainAllowPrivate = false

    func options(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServeOptions {
        var options = ServeOptions()
        func pick(_ flag: String?, _ variable: String) -> String? {
            flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 }
        }
        if let value = pick(dataDir, "S4A_DATA_DIR") { options.dataDirectory = value }
        if let value = pick(listen, "S4A_LISTEN") { try options.setListen(value) }
        if let value = pick(apiHost, "S4A_API_HOST") { options.apiHost = value }
        if let value = pick(appsDomain, "S4A_APPS_DOMAIN") { options.appsDomain = value }
        options.databaseURL = pick(databaseURL, "S4A_DATABASE_URL")
        options.tlsCertificatePath = pick(tlsCert, "S4A_TLS_CERT")
        options.tlsKeyPath = pick(tlsKey, "S4A_TLS_KEY")
        guard (options.tlsCertificatePath == nil) == (options.tlsKeyPath == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together.")
        }
        switch pick(signup, "S4A_SIGNUP") ?? "open" {
        case "open": options.signupOpen = true
        case "closed": options.signupOpen = false
        default: throw ValidationError("--signup must be open or closed.")
        }
        if let value = pick(bcryptCost.map(String.init), "S4A_BCRYPT_COST") {
            // Below 10 is for tests only; the flag documents 10…16 but tests pass S4A_BCRYPT_COST=4.
            guard let cost = UInt8(value), (4...16).contains(cost) else { throw ValidationError("--bcrypt-cost must be 4…16.") }
            options.bcryptCost = cost
        }
        options.metricsToken = pick(metricsToken, "S4A_METRICS_TOKEN")
        options.masterKeyFile = pick(masterKeyFile, "S4A_MASTER_KEY_FILE")
        options.masterKeyBase64 = environment["S4A_MASTER_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        options.projectKeyDirectoryOverride = pick(projectKeyDir, "S4A_PROJECT_KEY_DIR")
        if let value = leaseSeconds ?? pick(nil, "S4A_LEASE_SECONDS").flatMap(Double.init) {
            guard (1...2_592_000).contains(value) else { throw OptionError("--lease-seconds must be 1 to 2592000 (30 days)") }
            options.leaseSeconds = value
        }
        if let value = usageInterval ?? pick(nil, "S4A_USAGE_INTERVAL").flatMap(Double.init) {
            guard (1...60).contains(value) else { throw OptionError("--usage-interval must be 1 to 60") }
            options.usageIntervalSeconds = value
        }
        if let value = headerTimeout ?? pick(nil, "S4A_HEADER_TIMEOUT").flatMap(Double.init) {
            guard (1...300).contains(value) else { throw OptionError("--header-timeout must be 1 to 300") }
            options.headerTimeoutSeconds = value
        }
        if let value = probeInterval ?? pick(nil, "S4A_PROBE_INTERVAL").flatMap(Double.init) {
            guard (1...60).contains(value) else { throw OptionError("--probe-interval must be 1 to 60") }
            options.probeIntervalSeconds = value
        }
        if let value = retentionDays ?? pick(nil, "S4A_RETENTION_DAYS").flatMap(Int.init) {
            guard (1...3650).contains(value) else { throw OptionError("--retention-days must be 1 to 3650") }
            options.retentionDays = value
        }
        if let path = pick(pricesFile, "S4A_PRICES_FILE") {
            options.rateCard = try RateCard.load(file: path, over: options.rateCard)
        }
        for (flag, variable, name, keyPath) in [
            (priceVcpuSecond, "S4A_PRICE_VCPU_SECOND", "--price-vcpu-second", \RateCard.cpuNanosPerVCPUSecond),
            (priceGibSecond, "S4A_PRICE_GIB_SECOND", "--price-gib-second", \RateCard.memoryNanosPerGiBSecond),
            (priceEgressGib, "S4A_PRICE_EGRESS_GIB", "--price-egress-gib", \RateCard.egressNanosPerGiB),
        ] {
            guard let text = pick(flag, variable) else { continue }
            guard let nanos = RateCard.nanos(fromMicros: text) else {
                throw OptionError("\(name) takes micro-dollars with at most three decimals, e.g. 4.5")
            }
            options.rateCard[keyPath: keyPath] = nanos
        }
        if let value = pick(httpListen, "S4A_HTTP_LISTEN") { try options.setHTTPListen(value) }
        if let value = pick(acmeDirectory, "S4A_ACME_DIRECTORY") {
            guard let url = URL(string: value), url.scheme?.lowercased() == "https", url.host != nil else {
                throw ValidationError("--acme-directory must be an https:// URL, e.g. https://acme-v02.api.letsencrypt.org/directory")
            }
            guard options.httpListenPort != nil else {
                throw ValidationError("--acme-directory needs --http-listen: HTTP-01 validation reaches the plain-HTTP listener.")
            }
            options.acmeDirectoryURL = url
        }
        options.acmeCACertificatePath = pick(acmeCaCert, "S4A_ACME_CA_CERT")
        options.acmeEmail = pick(acmeEmail, "S4A_ACME_EMAIL")
        if options.acmeDirectoryURL == nil, options.acmeCACertificatePath != nil || options.acmeEmail != nil {
            throw ValidationError("--acme-ca-cert and --acme-email need --acme-directory.")
        }
        if let path = pick(drainCaFile, "S4A_DRAIN_CA_FILE") {
            guard FileManager.default.isReadableFile(atPath: path) else { throw ValidationError("--drain-ca-file: cannot read \(path)") }
            options.drainCAFile = path
        }
        if let value = drainBuffer ?? pick(nil, "S4A_DRAIN_BUFFER").flatMap(Int.init) {
            guard (10...1_000_000).contains(value) else { throw OptionError("--drain-buffer must be 10 to 1000000") }
            options.drainBufferRecords = value
        }
        options.drainAllowPrivate = drainAllowPrivate || ["1", "true", "yes"].contains(environment["S4A_DRAIN_ALLOW_PRIVATE"] ?? "")
        return options
    }

    func run() async throws {
        let options = try options()
        var logger = Logger(label: "s4a")
        logger.logLevel = ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
        let plane = try await ControlPlane(options: options, logger: logger)
        do {
            try await plane.reconcile()
            let app = try plane.application { port in
                let suffix = port == 443 ? "" : ":\(port)"
                var lines = ["Server4Agent is serving https://\(options.apiHost)\(suffix) (listening on \(options.listenHost):\(port))",
                             "Projects answer at https://<slug>.\(options.appsDomain)\(suffix)",
                             "Store: \(plane.store.engineName)"]
                if let ca = plane.caCertificatePath { lines.append("Trust this CA: \(ca)   (curl --cacert \(ca))") }
                print(lines.joined(separator: "\n"))
                fflush(nil)  // every stream: `stdout` itself is a global Swift 6 will not share
            }
            // Drains in-flight requests on SIGTERM or SIGINT, then closes the store.
            var services = [ServiceGroupConfiguration.ServiceConfiguration(service: app)]
            if let http = plane.plainHTTPApplication(onRunning: { port in
                print("Plain HTTP on \(options.httpListenHost ?? ""):\(port) answers ACME challenges and redirects to HTTPS")
                fflush(nil)  // every stream: `stdout` itself is a global Swift 6 will not share
            }) {
                services.append(.init(service: http))
            }
            services += plane.backgroundServices().map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
            var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                          logger: logger)
            // Requests get a few seconds to finish; a client that stopped reading a download
            // must not keep the platform from stopping (cancellation then closes what is left).
            configuration.maximumGracefulShutdownDuration = .seconds(6)
            let hardStop = HardStop(after: .seconds(8), logger: logger)
            try await ServiceGroup(configuration: configuration).run()
            withExtendedLifetime(hardStop) {}
        } catch {
            await plane.shutdown()
            throw error
        }
        await plane.shutdown()
    }
}
