import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOSSL
import X509

/// A certificate the ACME server issued, with the fresh key it certifies.
public struct IssuedCertificate: Sendable {
    /// PEM certificates, leaf first, as the server sent them.
    public var certificateChainPEM: String
    /// The leaf's P-256 key in PEM (PKCS#8); store it with mode 0600.
    public var privateKeyPEM: String
    public var notAfter: Date
    public var domains: [String]

    public init(certificateChainPEM: String, privateKeyPEM: String, notAfter: Date, domains: [String]) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
        self.notAfter = notAfter
        self.domains = domains
    }
}

/// An ACME (RFC 8555) client that obtains certificates by HTTP-01 validation.
public struct ACMEClient: Sendable {
    public let directoryURL: URL
    public let trustRootsPEM: String?
    public let accountKeyPath: String
    public let contact: String?
    public let challenges: HTTP01Challenges
    public let logger: Logger
    /// How often a pending authorization or order is polled, and for how long: the server's
    /// Retry-After wins when it sends one, clamped to `maximumPollInterval`.
    public var pollInterval: TimeInterval = 1
    public var maximumPollInterval: TimeInterval = 10
    public var maximumPolls = 60
    /// How long to keep trying to connect (refused connections are retried until then).
    public var connectTimeout: TimeInterval = 10

    /// - Parameters:
    ///   - directoryURL: e.g. `https://127.0.0.1:14000/dir`.
    ///   - trustRootsPEM: extra CA certificates to trust for the ACME server's own TLS (on top
    ///     of the system store), or nil for the system store alone.
    ///   - accountKeyPath: a P-256 key file (PEM, 0600) created on first use and reused after.
    ///   - contact: an email (`mailto:` is added) or a URI for the account, or nil.
    ///   - challenges: where pending HTTP-01 key authorizations are published.
    public init(directoryURL: URL, trustRootsPEM: String?, accountKeyPath: String, contact: String?,
                challenges: HTTP01Challenges, logger: Logger) {
        self.directoryURL = directoryURL
        self.trustRootsPEM = trustRootsPEM
        self.accountKeyPath = accountKeyPath
        self.contact = contact
        self.challenges = challenges
        self.logger = logger
    }

    /// Creates or finds the account, orders a certificate for `domains`, answers HTTP-01
    /// through `challenges`, polls the authorizations and the order, finalizes with a CSR for
    /// a fresh P-256 key and downloads the chain.
    public func obtainCertificate(for domains: [String]) async throws -> IssuedCertificate {
        let domains = try Self.normalize(domains)
        let http = try makeHTTPClient()
        do {
            let issued = try await obtain(domains: domains, http: http)
            try await http.shutdown()
            return issued
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    private func obtain(domains: [String], http: HTTPClient) async throws -> IssuedCertificate {
        let session = ACMESession(http: http, key: JWS(key: try AccountKey.loadOrCreate(path: accountKeyPath)),
                                  directoryURL: directoryURL.absoluteString, logger: logger)
        let directory = try await session.loadDirectory()
        try await session.registerAccount(contact: contact)

        let created = try await session.post(
            directory.newOrder, payload: NewOrderRequest(identifiers: domains.map { ACMEIdentifier(type: "dns", value: $0) }),
            name: "newOrder")
        guard let orderURL = created.location else {
            throw ACMEError.unexpectedResponse(request: "newOrder", status: created.status, reason: "no Location header")
        }
        var order = try session.decode(ACMEOrder.self, created, name: "newOrder")
        logger.info("ACME order placed", metadata: ["order": "\(orderURL)", "domains": "\(domains.joined(separator: ","))"])

        for authorization in order.authorizations {
            try await authorize(authorization, session: session)
        }

        order = try await poll("order \(orderURL) to become ready") {
            let response = try await session.postAsGet(orderURL, name: "order")
            let order = try session.decode(ACMEOrder.self, response, name: "order")
            return (order.status == "pending" ? nil : order, response.retryAfter)
        }
        guard order.status == "ready" else { throw ACMEError.orderFailed(url: orderURL, problem: order.error) }

        let certificateKey = P256.Signing.PrivateKey()
        let csr = try CertificateRequest.der(domains: domains, key: certificateKey)
        let finalized = try await session.post(order.finalize, payload: FinalizeRequest(csr: Base64URL.encode(csr)),
                                               name: "finalize")
        order = try session.decode(ACMEOrder.self, finalized, name: "finalize")
        if order.status == "processing" {
            let retryAfter = finalized.retryAfter
            order = try await poll("order \(orderURL) to be issued", firstDelay: retryAfter) {
                let response = try await session.postAsGet(orderURL, name: "order")
                let current = try session.decode(ACMEOrder.self, response, name: "order")
                return (current.status == "processing" ? nil : current, response.retryAfter)
            }
        }
        guard order.status == "valid", let certificateURL = order.certificate else {
            throw ACMEError.orderFailed(url: orderURL, problem: order.error)
        }

        let download = try await session.postAsGet(certificateURL, name: "certificate",
                                                    accept: "application/pem-certificate-chain")
        let chainPEM = download.text
        let chain = try CertificateRequest.parseChain(chainPEM)
        guard chain[0].publicKey == Certificate.PublicKey(certificateKey.publicKey) else {
            throw ACMEError.invalidCertificateChain("the leaf does not certify the key of the request")
        }
        logger.info("ACME certificate issued", metadata: ["domains": "\(domains.joined(separator: ","))",
                                                         "not_after": "\(chain[0].notValidAfter)"])
        return IssuedCertificate(certificateChainPEM: chainPEM, privateKeyPEM: certificateKey.pemRepresentation,
                                 notAfter: chain[0].notValidAfter, domains: domains)
    }

    /// Validates one authorization by HTTP-01 unless it is already valid.
    private func authorize(_ url: String, session: ACMESession) async throws {
        let response = try await session.postAsGet(url, name: "authorization")
        let authorization = try session.decode(ACMEAuthorization.self, response, name: "authorization")
        let domain = authorization.identifier.value
        switch authorization.status {
        case "valid": return
        case "pending": break
        default:
            throw ACMEError.authorizationFailed(domain: domain, problem: authorization.challenges.compactMap(\.error).first)
        }
        guard let challenge = authorization.challenges.first(where: { $0.type == "http-01" }), let token = challenge.token else {
            throw ACMEError.noHTTP01Challenge(domain: domain)
        }
        challenges.publish(token: token, keyAuthorization: session.key.keyAuthorization(token: token))
        defer { challenges.withdraw(token: token) }
        if challenge.status == "pending" {
            // The empty object tells the server to validate now (RFC 8555 §7.5.1).
            _ = try await session.post(challenge.url, payload: EmptyObject(), name: "challenge")
        }
        let settled = try await poll("authorization of \(domain)") {
            let response = try await session.postAsGet(url, name: "authorization")
            let current = try session.decode(ACMEAuthorization.self, response, name: "authorization")
            return (current.status == "pending" ? nil : current, response.retryAfter)
        }
        guard settled.status == "valid" else {
            let problem = settled.challenges.first(where: { $0.type == "http-01" })?.error
                ?? settled.challenges.compactMap(\.error).first
            throw ACMEError.authorizationFailed(domain: domain, problem: problem)
        }
        logger.debug("ACME authorization valid", metadata: ["domain": "\(domain)"])
    }

    /// Calls `check` until it returns a value, sleeping between calls for the server's
    /// Retry-After (clamped) or `pollInterval`, at most `maximumPolls` times.
    private func poll<T>(_ what: String, firstDelay: TimeInterval? = nil,
                         _ check: () async throws -> (T?, TimeInterval?)) async throws -> T {
        if let firstDelay { try await sleep(firstDelay) }
        for _ in 0..<maximumPolls {
            let (value, retryAfter) = try await check()
            if let value { return value }
            try await sleep(retryAfter ?? pollInterval)
        }
        throw ACMEError.timedOut(waitingFor: what)
    }

    private func sleep(_ seconds: TimeInterval) async throws {
        let delay = min(max(seconds, 0.05), maximumPollInterval)
        try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
    }

    private func makeHTTPClient() throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let trustRootsPEM {
            let roots = try NIOSSLCertificate.fromPEMBytes(Array(trustRootsPEM.utf8))
            guard !roots.isEmpty else { throw ACMEError.invalidRequest("trustRootsPEM holds no certificate") }
            tls.additionalTrustRoots = [.certificates(roots)]
        }
        var configuration = HTTPClient.Configuration()
        configuration.tlsConfiguration = tls
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .milliseconds(Int64(connectTimeout * 1000)), read: .seconds(30))
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Lowercased, without duplicates or a trailing dot, in the caller's order.
    static func normalize(_ domains: [String]) throws -> [String] {
        var seen = Set<String>()
        let names = domains.map { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ". ")) }
            .filter { seen.insert($0).inserted }
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty }) else {
            throw ACMEError.invalidRequest("no domain names to order a certificate for")
        }
        return names
    }
}

struct EmptyObject: Encodable {}
