import Foundation
import S4ADomain

/// Opaque list cursors: base64url of the last item's sort key. Clients must not parse them.
enum Cursor {
    static func encode(_ parts: [String]) -> String {
        Data(parts.joined(separator: "\n").utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String, parts count: Int) throws -> [String] {
        var text = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text), let decoded = String(data: data, encoding: .utf8) else {
            throw DomainError.invalid("cursor", "is not a cursor this API issued")
        }
        let parts = decoded.components(separatedBy: "\n")
        guard parts.count == count else { throw DomainError.invalid("cursor", "is not a cursor this API issued") }
        return parts
    }

    /// (created_at, id) keyset for lists ordered newest first.
    static func createdAt(_ cursor: String) throws -> (Int64, String) {
        let parts = try decode(cursor, parts: 2)
        guard let millis = Int64(parts[0]) else { throw DomainError.invalid("cursor", "is not a cursor this API issued") }
        return (millis, parts[1])
    }
}
