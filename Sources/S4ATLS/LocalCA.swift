import Crypto
import Foundation
import SwiftASN1
import X509

/// The platform's own certificate authority, as Caddy runs one: created on first start in
/// `<data-dir>/tls/`, it issues the certificate for the API host and `*.<apps-domain>`.
/// Clients trust `ca.pem` (curl `--cacert`, `S4A_CA_CERT`).
public struct LocalCA: Sendable {
    public let directory: URL
    public var caCertificatePath: String { directory.appendingPathComponent("ca.pem").path }
    var caKeyPath: String { directory.appendingPathComponent("ca-key.pem").path }
    var serverCertificatePath: String { directory.appendingPathComponent("server.pem").path }
    var serverKeyPath: String { directory.appendingPathComponent("server-key.pem").path }
    var serverNamesPath: String { directory.appendingPathComponent("server.names").path }

    public init(directory: URL) { self.directory = directory }

    /// Loads the CA (creating it if absent) and a server certificate valid for `hostnames`
    /// (reissued when the names change or it nears expiry). Returns PEM paths to serve.
    public func serverCredentials(hostnames: [String], now: Date = Date()) throws -> (certificate: String, key: String) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let (caCertificate, caKey) = try loadOrCreateAuthority(now: now)
        let names = hostnames.joined(separator: "\n")
        let current = try? String(contentsOfFile: serverNamesPath, encoding: .utf8)
        let existing = try? Certificate(pemEncoded: String(contentsOfFile: serverCertificatePath, encoding: .utf8))
        let fresh = existing.map { $0.notValidAfter > now.addingTimeInterval(30 * 86400) } ?? false
        if current != names || !fresh || !FileManager.default.fileExists(atPath: serverKeyPath) {
            try issueServerCertificate(hostnames: hostnames, caCertificate: caCertificate, caKey: caKey, now: now)
            try Self.write(names, to: serverNamesPath, mode: 0o644)
        }
        return (serverCertificatePath, serverKeyPath)
    }

    func loadOrCreateAuthority(now: Date) throws -> (Certificate, P256.Signing.PrivateKey) {
        if FileManager.default.fileExists(atPath: caCertificatePath), FileManager.default.fileExists(atPath: caKeyPath) {
            let certificate = try Certificate(pemEncoded: String(contentsOfFile: caCertificatePath, encoding: .utf8))
            let key = try P256.Signing.PrivateKey(pemRepresentation: String(contentsOfFile: caKeyPath, encoding: .utf8))
            return (certificate, key)
        }
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Server4Agent")
            CommonName("Server4Agent local CA \(RandomSerial.hexSuffix())")
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: RandomSerial.make(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        try Self.write(key.pemRepresentation, to: caKeyPath, mode: 0o600)
        try Self.write(try certificate.serializeAsPEM().pemString, to: caCertificatePath, mode: 0o644)
        return (certificate, key)
    }

    func issueServerCertificate(hostnames: [String], caCertificate: Certificate, caKey: P256.Signing.PrivateKey,
                                now: Date) throws {
        let key = P256.Signing.PrivateKey()
        let names = try hostnames.map { name -> GeneralName in
            if let bytes = IPAddressBytes.parse(name) { return .ipAddress(ASN1OctetString(contentBytes: bytes[...])) }
            guard !name.isEmpty else { throw LocalCAError.emptyHostname }
            return .dnsName(name)
        }
        let subject = try DistinguishedName { CommonName(hostnames.first ?? "localhost") }
        let certificate = try Certificate(
            version: .v3, serialNumber: RandomSerial.make(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(397 * 86400),
            issuer: caCertificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                SubjectKeyIdentifier(hash: .init(key.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: try caCertificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(caKey))
        // The chain the server presents: its certificate, then the CA's.
        let chain = try certificate.serializeAsPEM().pemString + "\n" + caCertificate.serializeAsPEM().pemString + "\n"
        try Self.write(key.pemRepresentation, to: serverKeyPath, mode: 0o600)
        try Self.write(chain, to: serverCertificatePath, mode: 0o644)
    }

    /// Writes atomically, with the mode set before the content lands (keys never world-readable).
    static func write(_ text: String, to path: String, mode: Int) throws {
        let temporary = path + ".tmp"
        FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: mode])
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        try handle.write(contentsOf: Data(text.utf8))
        try handle.synchronize()
        try handle.close()
        guard rename(temporary, path) == 0 else { throw LocalCAError.writeFailed(path) }
    }
}

enum RandomSerial {
    static func make() -> Certificate.SerialNumber {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[0] &= 0x7F
        return Certificate.SerialNumber(bytes: bytes)
    }

    static func hexSuffix() -> String {
        (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

enum IPAddressBytes {
    /// IPv4 or IPv6 text to its network bytes; nil for a host name.
    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif

enum LocalCAError: Error {
    case emptyHostname
    case writeFailed(String)
}
