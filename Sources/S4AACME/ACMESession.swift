import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// One conversation with an ACME server: the directory, the nonce to use next, the account's
/// key and URL. Requests are sequential; each signed POST carries the last nonce the server
/// handed out (or a fresh one from newNonce) and is retried once on `badNonce`.
final class ACMESession {
    let http: HTTPClient
    let key: JWS
    let logger: Logger
    let directoryURL: String
    private(set) var directory: ACMEDirectory?
    /// The next nonce to use (internal so a test can plant a stale one).
    var nonce: String?
    private(set) var accountURL: String?

    static let timeout = TimeAmount.seconds(30)
    static let maximumBody = 4 << 20

    struct Response {
        var status: UInt
        var location: String?
        var retryAfterHeader: String?
        var body: ByteBuffer
        /// Retry-After in seconds (RFC 9110: delay-seconds or an HTTP-date), when present.
        var retryAfter: TimeInterval? {
            guard let value = retryAfterHeader?.trimmingCharacters(in: .whitespaces) else { return nil }
            if let seconds = TimeInterval(value) { return max(0, seconds) }
            let format = DateFormatter()
            format.locale = Locale(identifier: "en_US_POSIX")
            format.timeZone = TimeZone(identifier: "GMT")
            format.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            return format.date(from: value).map { max(0, $0.timeIntervalSinceNow) }
        }
        var text: String { String(buffer: body) }
    }

    init(http: HTTPClient, key: JWS, directoryURL: String, logger: Logger) {
        self.http = http
        self.key = key
        self.directoryURL = directoryURL
        self.logger = logger
    }

    func loadDirectory() async throws -> ACMEDirectory {
        if let directory { return directory }
        let response: Response
        do {
            response = try await send(HTTPClientRequest(url: directoryURL))
        } catch {
            throw ACMEError.directoryUnavailable(url: directoryURL, reason: String(describing: error))
        }
        guard response.status == 200 else {
            throw ACMEError.directoryUnavailable(url: directoryURL, reason: "HTTP \(response.status)")
        }
        guard let directory = try? JSONDecoder().decode(ACMEDirectory.self, from: response.body) else {
            throw ACMEError.directoryUnavailable(url: directoryURL, reason: "the response is not an ACME directory")
        }
        self.directory = directory
        return directory
    }

    /// Finds or creates the account for this key (RFC 8555 §7.3) and keeps its URL as `kid`.
    func registerAccount(contact: String?) async throws {
        let directory = try await loadDirectory()
        if directory.meta?.externalAccountRequired == true {
            throw ACMEError.invalidRequest("the server requires external account binding, which this client does not do")
        }
        let contacts = contact.map { [$0.contains(":") ? $0 : "mailto:" + $0] }
        let request = NewAccountRequest(termsOfServiceAgreed: true, contact: contacts)
        let response = try await post(directory.newAccount, payload: request, name: "newAccount", useKid: false)
        guard let location = response.location else {
            throw ACMEError.unexpectedResponse(request: "newAccount", status: response.status, reason: "no Location header")
        }
        logger.debug("ACME account", metadata: ["account": "\(location)", "created": "\(response.status == 201)"])
        accountURL = location
    }

    /// A signed POST with a JSON payload (`Encodable`), or a POST-as-GET when `payload` is nil.
    func post<Payload: Encodable>(_ url: String, payload: Payload?, name: String, useKid: Bool = true,
                                  accept: String? = nil) async throws -> Response {
        let body = try payload.map { try JSONEncoder().encode($0) }
        return try await signedPost(url, body: body, name: name, useKid: useKid, accept: accept)
    }

    func postAsGet(_ url: String, name: String, accept: String? = nil) async throws -> Response {
        try await signedPost(url, body: nil, name: name, useKid: true, accept: accept)
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: Response, name: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: response.body)
        } catch {
            throw ACMEError.unexpectedResponse(request: name, status: response.status,
                                               reason: "unreadable \(T.self): \(error)")
        }
    }

    private func signedPost(_ url: String, body: Data?, name: String, useKid: Bool, accept: String?) async throws -> Response {
        var retriedBadNonce = false
        while true {
            let identifier: JWS.KeyIdentifier
            if useKid {
                guard let accountURL else { throw ACMEError.invalidRequest("no account yet for \(name)") }
                identifier = .kid(accountURL)
            } else {
                identifier = .jwk
            }
            let signed = try key.sign(payload: body, url: url, nonce: try await takeNonce(), identifier: identifier)
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/jose+json")
            if let accept { request.headers.add(name: "Accept", value: accept) }
            request.body = .bytes(ByteBuffer(data: signed))
            let response = try await send(request)
            if (200..<300).contains(response.status) { return response }
            let problem = try? JSONDecoder().decode(ACMEProblem.self, from: response.body)
            if let problem, problem.isBadNonce, !retriedBadNonce {
                logger.debug("ACME badNonce, retrying once", metadata: ["request": "\(name)"])
                retriedBadNonce = true
                continue
            }
            if let problem { throw ACMEError.problem(problem, request: name) }
            throw ACMEError.unexpectedResponse(request: name, status: response.status, reason: String(response.text.prefix(300)))
        }
    }

    /// The nonce the last response carried, else a fresh one from newNonce. Each is used once.
    private func takeNonce() async throws -> String {
        if let nonce {
            self.nonce = nil
            return nonce
        }
        let directory = try await loadDirectory()
        var request = HTTPClientRequest(url: directory.newNonce)
        request.method = .HEAD
        let response = try await send(request)
        guard let fresh = nonce else {
            throw ACMEError.unexpectedResponse(request: "newNonce", status: response.status, reason: "no Replay-Nonce header")
        }
        self.nonce = nil
        return fresh
    }

    private func send(_ request: HTTPClientRequest) async throws -> Response {
        let response = try await http.execute(request, timeout: Self.timeout, logger: logger)
        let body = try await response.body.collect(upTo: Self.maximumBody)
        if let replay = response.headers.first(name: "Replay-Nonce") { nonce = replay }
        return Response(status: response.status.code, location: response.headers.first(name: "Location"),
                        retryAfterHeader: response.headers.first(name: "Retry-After"), body: body)
    }
}
