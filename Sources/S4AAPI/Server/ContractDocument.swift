import Foundation
import OpenAPIRuntime
import S4AContract
import S4ADomain
import Yams

/// The OpenAPI document, loaded once: served as JSON and read for each operation's
/// `x-s4a-scope`, so the contract itself says who may call what.
public struct ContractDocument: Sendable {
    public let json: Data
    public let requirements: [String: Requirement]
    /// (method, path) of every documented operation, for the route-coverage test.
    let operations: [(method: String, path: String, operationID: String)]
    /// Paths, methods and body media types, for 405 and 415 answers.
    let routes: ContractRoutes

    public static func load() throws -> ContractDocument {
        let yaml = try OpenAPIDocument.yaml()
        guard let document = try Yams.load(yaml: yaml) as? [String: Any],
              let paths = document["paths"] as? [String: Any] else {
            throw ContractError.malformed("no paths")
        }
        var requirements: [String: Requirement] = [:]
        var operations: [(String, String, String)] = []
        var routes = ContractRoutes()
        for (path, item) in paths {
            guard let item = item as? [String: Any] else { continue }
            for method in ["get", "put", "post", "patch", "delete"] {
                guard let operation = item[method] as? [String: Any],
                      let id = operation["operationId"] as? String else { continue }
                guard let scope = operation["x-s4a-scope"] as? String, let requirement = Requirement(contract: scope) else {
                    throw ContractError.malformed("operation \(id) lacks a valid x-s4a-scope")
                }
                requirements[id] = requirement
                operations.append((method.uppercased(), path, id))
                let body = (operation["requestBody"] as? [String: Any])?["content"] as? [String: Any]
                routes.add(method: method, template: path, operationID: id, bodyTypes: body.map { Array($0.keys) } ?? [])
            }
        }
        let json = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
        return ContractDocument(json: json, requirements: requirements, operations: operations, routes: routes)
    }

    enum ContractError: Error { case malformed(String) }
}
