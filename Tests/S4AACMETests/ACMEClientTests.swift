import AsyncHTTPClient
import Crypto
import Foundation
import Logging
import NIOSSL
@testable import S4AACME
import SwiftASN1
import S4ATestSupport
import Testing
import X509

/// The ACME client against a real pebble on loopback. Validation is real: pebble's VA
/// resolves names through pebble-challtestsrv (every A query answers 127.0.0.1) and fetches
/// the HTTP-01 key authorization from the test's challenge server; PEBBLE_VA_ALWAYS_VALID
/// is never set.
@Suite("ACME client against pebble", .serialized, .tags(.pebble), .needs(.pebble))
struct ACMEClientTests {
    let logger = Logger(label: "s4a.acme.test")

    func client(_ pebble: Pebble, challenges: HTTP01Challenges, keyPath: String,
                directoryURL: URL? = nil) -> ACMEClient {
        var client = ACMEClient(directoryURL: directoryURL ?? pebble.directoryURL, trustRootsPEM: pebble.trustRootsPEM,
                                accountKeyPath: keyPath, contact: "ops@example.com", challenges: challenges,
                                logger: logger)
        client.pollInterval = 0.2
        return client
    }

    @Test func obtainsAVerifiableCertificateAndReusesTheAccountKey() async throws {
        let challenges = HTTP01Challenges()
        try await Pebble.with(challenges: challenges) { pebble in
            let keyPath = pebble.directory.appendingPathComponent("acme/account-key.pem").path
            let domain = "shop-1a2b.apps.localhost"
            let acme = client(pebble, challenges: challenges, keyPath: keyPath)

            let issued = try await acme.obtainCertificate(for: [domain])
            #expect(issued.domains == [domain])
            let chain = try PEMDocument.parseMultiple(pemString: issued.certificateChainPEM).map { try Certificate(pemDocument: $0) }
            try #require(chain.count >= 2)
            let leaf = chain[0]
            #expect(issued.notAfter == leaf.notValidAfter)
            #expect(issued.notAfter > Date())

            // The chain verifies against pebble's issuing root, for this very name.
            let root = try Certificate(pemEncoded: try await pebble.issuingRootPEM())
            var verifier = Verifier(rootCertificates: CertificateStore([root])) {
                RFC5280Policy()
                ServerIdentityPolicy(serverHostname: domain, serverIP: nil)
            }
            let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(Array(chain.dropFirst())))
            guard case .validCertificate = result else {
                Issue.record("the chain does not verify against pebble's root: \(result)")
                return
            }
            let names = try leaf.extensions.subjectAlternativeNames.map(Array.init) ?? []
            #expect(names == [.dnsName(domain)])

            // The private key is the one the leaf certifies.
            let key = try P256.Signing.PrivateKey(pemRepresentation: issued.privateKeyPEM)
            #expect(leaf.publicKey == Certificate.PublicKey(key.publicKey))

            // The account key was created 0600 and a second order runs under it unchanged.
            let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let accountKey = try String(contentsOfFile: keyPath, encoding: .utf8)
            let second = try await acme.obtainCertificate(for: [domain, "www.shop-1a2b.apps.localhost"])
            #expect(try String(contentsOfFile: keyPath, encoding: .utf8) == accountKey)
            #expect(second.domains == [domain, "www.shop-1a2b.apps.localhost"])
            let secondLeaf = try Certificate(pemDocument: try #require(
                PEMDocument.parseMultiple(pemString: second.certificateChainPEM).first))
            let secondNames = try secondLeaf.extensions.subjectAlternativeNames.map(Array.init) ?? []
            #expect(Set(secondNames) == [.dnsName(domain), .dnsName("www.shop-1a2b.apps.localhost")])
            #expect(second.privateKeyPEM != issued.privateKeyPEM)
            // Nothing stays published once the orders are done.
            #expect(challenges.isEmpty)
        }
    }

    @Test func anUnansweredChallengeFailsWithTheProblemDetail() async throws {
        let served = HTTP01Challenges()
        try await Pebble.with(challenges: served) { pebble in
            // The client publishes into a registry the challenge server does not read: pebble's
            // VA gets a 404 and the authorization becomes invalid.
            let acme = client(pebble, challenges: HTTP01Challenges(),
                              keyPath: pebble.directory.appendingPathComponent("account-key.pem").path)
            do {
                _ = try await acme.obtainCertificate(for: ["unanswered-9f.apps.localhost"])
                Issue.record("an unanswered challenge was accepted")
            } catch let error as ACMEError {
                guard case .authorizationFailed(let domain, let problem) = error else {
                    Issue.record("unexpected error: \(error)")
                    return
                }
                #expect(domain == "unanswered-9f.apps.localhost")
                #expect(problem?.type == "urn:ietf:params:acme:error:unauthorized")
                #expect(problem?.detail?.contains("404") == true, "\(String(describing: problem))")
                #expect("\(error)".contains("unanswered-9f.apps.localhost"))
                print("note: pebble refused the unanswered challenge with: \(error)")
            }
        }
    }

    @Test func aRejectedNonceIsRetriedOnceWithTheFreshOne() async throws {
        let challenges = HTTP01Challenges()
        try await Pebble.with(challenges: challenges) { pebble in
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pebble.trustRootsPEM.utf8)))
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
            let session = ACMESession(http: http, key: JWS(key: P256.Signing.PrivateKey()),
                                      directoryURL: pebble.directoryURL.absoluteString, logger: logger)
            do {
                _ = try await session.loadDirectory()
                // A nonce pebble never issued: the first newAccount gets badNonce (whose response
                // carries a fresh nonce), the retry succeeds.
                session.nonce = "bm90LWEtbm9uY2U"
                try await session.registerAccount(contact: nil)
                #expect(session.accountURL != nil)
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    @Test func aDirectoryThatIsNotACMEGivesAClearError() async throws {
        let challenges = HTTP01Challenges()
        try await Pebble.with(challenges: challenges) { pebble in
            let wrong = URL(string: pebble.directoryURL.absoluteString.replacingOccurrences(of: "/dir", with: "/no-such-dir"))!
            let acme = client(pebble, challenges: challenges,
                              keyPath: pebble.directory.appendingPathComponent("account-key.pem").path, directoryURL: wrong)
            let error = await #expect(throws: ACMEError.self) { _ = try await acme.obtainCertificate(for: ["a.apps.localhost"]) }
            guard case .directoryUnavailable(let url, let reason)? = error else {
                Issue.record("unexpected error: \(String(describing: error))")
                return
            }
            #expect(url == wrong.absoluteString)
            #expect(reason.contains("404"))
        }
    }

    /// Needs no pebble: nothing listens on the port.
    @Test func anUnreachableDirectoryGivesAClearError() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-acme-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = try freePort()
        var acme = ACMEClient(directoryURL: URL(string: "https://127.0.0.1:\(port)/dir")!, trustRootsPEM: nil,
                              accountKeyPath: directory.appendingPathComponent("key.pem").path, contact: nil,
                              challenges: HTTP01Challenges(), logger: logger)
        acme.connectTimeout = 1  // the HTTP client retries refused connections until this passes
        let error = await #expect(throws: ACMEError.self) { _ = try await acme.obtainCertificate(for: ["a.example"]) }
        guard case .directoryUnavailable(let url, _)? = error else {
            Issue.record("unexpected error: \(String(describing: error))")
            return
        }
        #expect(url == "https://127.0.0.1:\(port)/dir")
        #expect("\(error!)".contains("127.0.0.1:\(port)/dir"))
    }

    @Test func noDomainsIsRefusedBeforeAnyRequest() async throws {
        let acme = ACMEClient(directoryURL: URL(string: "https://127.0.0.1:9/dir")!, trustRootsPEM: nil,
                              accountKeyPath: "/nonexistent/key.pem", contact: nil, challenges: HTTP01Challenges(),
                              logger: logger)
        await #expect(throws: ACMEError.self) { _ = try await acme.obtainCertificate(for: []) }
    }
}
