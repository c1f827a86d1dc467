import Foundation

/// The OpenAPI document this module's types are generated from: the API contract.
public enum OpenAPIDocument {
    /// The YAML text of the document, read from the module's resources.
    public static func yaml() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw CocoaError(.fileNoSuchFile)
        }
        return try String(contentsOf: url, encoding: .utf8)
    }
}
