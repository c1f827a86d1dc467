import Crypto
import Foundation

/// JSON Web Signatures as RFC 8555 §6.2 uses them: flattened JSON serialization, ES256 with
/// the account's P-256 key, `jwk` in the header for newAccount and `kid` (the account URL) after.
struct JWS {
    let key: P256.Signing.PrivateKey

    enum KeyIdentifier {
        case jwk
        case kid(String)
    }

    /// The request body for `url`. A nil payload is a POST-as-GET (an empty payload string).
    func sign(payload: Data?, url: String, nonce: String, identifier: KeyIdentifier) throws -> Data {
        var header: [String: Any] = ["alg": "ES256", "nonce": nonce, "url": url]
        switch identifier {
        case .jwk: header["jwk"] = jwk
        case .kid(let account): header["kid"] = account
        }
        let protected = Base64URL.encode(try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        let encodedPayload = payload.map { Base64URL.encode($0) } ?? ""
        // ES256 signatures are the raw 64-byte r || s (RFC 7518 §3.4), not DER.
        let signature = try key.signature(for: Data("\(protected).\(encodedPayload)".utf8)).rawRepresentation
        let body = ["protected": protected, "payload": encodedPayload, "signature": Base64URL.encode(signature)]
        return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
    }

    /// The public key as a JWK (RFC 7517/7518).
    var jwk: [String: String] {
        let raw = key.publicKey.rawRepresentation  // x || y, 32 bytes each
        return ["crv": "P-256", "kty": "EC", "x": Base64URL.encode(raw.prefix(32)), "y": Base64URL.encode(raw.suffix(32))]
    }

    /// RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order, no whitespace.
    var thumbprint: String {
        let jwk = self.jwk
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(jwk["x"]!)","y":"\#(jwk["y"]!)"}"#
        return Base64URL.encode(Data(SHA256.hash(data: Data(canonical.utf8))))
    }

    /// What an HTTP-01 challenge serves for `token` (RFC 8555 §8.1).
    func keyAuthorization(token: String) -> String { token + "." + thumbprint }
}

enum Base64URL {
    static func encode<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
