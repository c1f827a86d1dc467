import Foundation
import HTTPTypes
import OpenAPIRuntime
import S4ADomain

/// Refuses a JSON body that sends `null` for a field: no request property in the contract is
/// nullable, and the generated decoder would read `null` as absent, so `{"visibility": null}`
/// would pass as "no change" instead of the error it is. Runs after authentication, so an
/// unauthenticated body is still not read.
struct NullFieldMiddleware: ServerMiddleware {
    let maxBodyBytes: Int

    func intercept(_ request: HTTPRequest, body: HTTPBody?, metadata: ServerRequestMetadata, operationID: String,
                   next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?))
        async throws -> (HTTPResponse, HTTPBody?) {
        guard let body, let type = request.headerFields[.contentType],
              ContractRoutes.mediaType(type) == "application/json" else {
            return try await next(request, body, metadata)
        }
        let bytes = try await [UInt8](collecting: body, upTo: maxBodyBytes)
        if let field = Self.nullField(in: bytes) {
            throw DomainError.invalid(field, "must not be null: leave it out instead")
        }
        return try await next(request, HTTPBody(bytes), metadata)
    }

    /// The first field (in key order) whose value is `null`, as `a.b[2].c`; nil when there is
    /// none or the body is not JSON (the decoder then says what is wrong).
    static func nullField(in bytes: [UInt8]) -> String? {
        // Most bodies hold no `null` at all: they are not parsed a second time.
        let null = Array("null".utf8)
        guard bytes.count >= 4, (0...(bytes.count - 4)).contains(where: { bytes[$0..<$0 + 4].elementsEqual(null) }) else { return nil }
        guard let value = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) else { return nil }
        return find(value, at: "")
    }

    private static func find(_ value: Any, at path: String) -> String? {
        if let object = value as? [String: Any] {
            for key in object.keys.sorted() {
                let field = path.isEmpty ? key : "\(path).\(key)"
                if object[key] is NSNull { return field }
                if let found = find(object[key]!, at: field) { return found }
            }
        } else if let array = value as? [Any] {
            for (index, element) in array.enumerated() {
                let field = "\(path.isEmpty ? "body" : path)[\(index)]"
                if element is NSNull { return field }
                if let found = find(element, at: field) { return found }
            }
        }
        return nil
    }
}
