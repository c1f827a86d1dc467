import Foundation
import NIOSSL
import S4ATLS
import Testing

/// The SNI chooser: a handshake naming a host with its own certificate gets it; every other
/// handshake keeps the listener's default certificate.
struct SNICertificatesTests {
    /// A chain and key for `name` from a throwaway local CA.
    func credentials(_ name: String) throws -> (chain: String, key: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-sni-\(UUID().uuidString)")
        let (certificate, key) = try LocalCA(directory: directory).serverCredentials(hostnames: [name])
        return (try String(contentsOfFile: certificate, encoding: .utf8), try String(contentsOfFile: key, encoding: .utf8), directory)
    }

    @Test func choosesByExactNameElseDefault() throws {
        let sni = SNICertificates()
        let shop = try credentials("shop.apps.example.com")
        defer { try? FileManager.default.removeItem(at: shop.directory) }
        try sni.install(name: "shop.apps.example.com", chainPEM: shop.chain, keyPEM: shop.key)
        let expected = try NIOSSLCertificate.fromPEMBytes(Array(shop.chain.utf8)).map { NIOSSLCertificateSource.certificate($0) }

        for name in ["shop.apps.example.com", "SHOP.apps.Example.com", "shop.apps.example.com."] {
            let chosen = sni.override(serverName: name)
            #expect(chosen.certificateChain == expected, "\(name)")
            #expect(chosen.privateKey != nil)
        }
        for name in [nil, "other.apps.example.com", "apps.example.com", "x.shop.apps.example.com", "127.0.0.1"] as [String?] {
            let chosen = sni.override(serverName: name)
            #expect(chosen.certificateChain == nil, "\(name ?? "no SNI")")
            #expect(chosen.privateKey == nil)
        }
        #expect(sni.names == ["shop.apps.example.com"])

        sni.remove(name: "Shop.apps.example.com")
        #expect(sni.override(serverName: "shop.apps.example.com").certificateChain == nil)
        #expect(sni.names.isEmpty)
    }

    @Test func theConfigurationAsksTheChooserOnlyWhenGivenOne() throws {
        let base = try credentials("localhost")
        defer { try? FileManager.default.removeItem(at: base.directory) }
        let directory = base.directory
        let certificate = directory.appendingPathComponent("server.pem").path, key = directory.appendingPathComponent("server-key.pem").path
        #expect(try ServerTLS.configuration(certificatePath: certificate, keyPath: key).sslContextCallback == nil)
        #expect(try ServerTLS.configuration(certificatePath: certificate, keyPath: key, sni: SNICertificates()).sslContextCallback != nil)
    }

    @Test func rejectsPEMWithoutCertificate() throws {
        let shop = try credentials("shop.apps.example.com")
        defer { try? FileManager.default.removeItem(at: shop.directory) }
        #expect(throws: (any Error).self) { try SNICertificates().install(name: "x.example.com", chainPEM: "", keyPEM: shop.key) }
    }
}
