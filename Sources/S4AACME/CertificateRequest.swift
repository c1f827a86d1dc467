import Crypto
import Foundation
import SwiftASN1
import X509

/// The finalize step's inputs and the downloaded chain's reading.
enum CertificateRequest {
    /// A DER CSR for `domains` (all as subjectAltName dNSNames, the first also as CN when it
    /// fits the 64-character limit), signed by `key`.
    static func der(domains: [String], key: P256.Signing.PrivateKey) throws -> [UInt8] {
        let subject = try DistinguishedName {
            if let first = domains.first, first.utf8.count <= 64 { CommonName(first) }
        }
        let extensions = try Certificate.Extensions {
            SubjectAlternativeNames(domains.map { GeneralName.dnsName($0) })
        }
        let attributes = CertificateSigningRequest.Attributes(
            [try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: extensions))])
        let request = try CertificateSigningRequest(
            version: .v1, subject: subject, privateKey: .init(key), attributes: attributes,
            signatureAlgorithm: .ecdsaWithSHA256)
        var serializer = DER.Serializer()
        try serializer.serialize(request)
        return serializer.serializedBytes
    }

    /// The certificates of a `application/pem-certificate-chain` body, leaf first.
    static func parseChain(_ pem: String) throws -> [Certificate] {
        let documents = try PEMDocument.parseMultiple(pemString: pem)
        let certificates = try documents.filter { $0.discriminator == "CERTIFICATE" }.map { try Certificate(pemDocument: $0) }
        guard !certificates.isEmpty else { throw ACMEError.invalidCertificateChain("no certificate in the download") }
        return certificates
    }
}
