import Foundation
import S4AACME
import S4ATLS
import Testing

/// Where ACME certificates are kept and when they are renewed.
struct CertificateDirectoryTests {
    @Test func savesKeysPrivatelyAndLoadsBack() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-acme-dir-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (certificate, key) = try LocalCA(directory: root.appendingPathComponent("ca")).serverCredentials(hostnames: ["shop.apps.example.com"])
        let issued = IssuedCertificate(certificateChainPEM: try String(contentsOfFile: certificate, encoding: .utf8),
                                       privateKeyPEM: try String(contentsOfFile: key, encoding: .utf8),
                                       notAfter: Date(), domains: ["shop.apps.example.com"])
        let directory = CertificateDirectory(directory: root.appendingPathComponent("acme"))
        let stored = try directory.save(issued, name: "shop.apps.example.com")
        let keyPath = root.appendingPathComponent("acme/shop.apps.example.com.key").path
        let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let dirMode = try FileManager.default.attributesOfItem(atPath: root.appendingPathComponent("acme").path)[.posixPermissions] as? Int
        #expect(dirMode == 0o700)
        #expect(directory.load(name: "shop.apps.example.com") == stored)
        #expect(Array(directory.loadAll().keys) == ["shop.apps.example.com"])
        #expect(directory.load(name: "other.apps.example.com") == nil)

        // A key that is not the leaf's is not a usable certificate.
        let (_, otherKey) = try LocalCA(directory: root.appendingPathComponent("ca2")).serverCredentials(hostnames: ["x.example.com"])
        try FileManager.default.removeItem(atPath: keyPath)
        try FileManager.default.copyItem(atPath: otherKey, toPath: keyPath)
        #expect(directory.load(name: "shop.apps.example.com") == nil)
    }

    @Test func refusesNamesThatAreNotPlainHostNames() {
        for name in ["", "../x", ".hidden", "a/b", "A.example.com", "a..b"] { #expect(!CertificateDirectory.isStorable(name), "\(name)") }
        #expect(CertificateDirectory.isStorable("shop-1.apps.example.com"))
    }

    @Test func renewsWhenLessThanAThirdOfTheLifetimeIsLeft() {
        let start = Date(timeIntervalSince1970: 1_000_000)
        let stored = StoredCertificate(name: "a.example.com", chainPEM: "", keyPEM: "", notBefore: start,
                                       notAfter: start.addingTimeInterval(90 * 86400))
        #expect(!stored.needsRenewal(at: start.addingTimeInterval(59 * 86400)))
        #expect(stored.needsRenewal(at: start.addingTimeInterval(60 * 86400)))
        #expect(stored.renewalDate == start.addingTimeInterval(60 * 86400))
        #expect(stored.isValid(at: start.addingTimeInterval(89 * 86400)))
        #expect(!stored.isValid(at: start.addingTimeInterval(90 * 86400)))
    }
}
