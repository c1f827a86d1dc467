import MCP
import S4AClient

/// One MCP tool: its name, a description written for a model, its input schema, the API
/// scopes a key needs for it to be offered, and what it does with a connection.
struct ToolDefinition: Sendable {
    let name: String
    let description: String
    /// Offered only to keys holding all of these (the API checks them again on every call).
    let scopes: [String]
    let inputSchema: Value
    var annotations: Tool.Annotations = nil
    let run: @Sendable (ToolArguments, APIConnection) async throws -> ToolOutput

    var tool: Tool {
        Tool(name: name, description: description, inputSchema: inputSchema, annotations: annotations)
    }

    func isOffered(to scopes: Set<String>) -> Bool { self.scopes.allSatisfy(scopes.contains) }
}

extension Tool.Annotations {
    static let readOnly = Tool.Annotations(readOnlyHint: true, openWorldHint: false)
    static let additive = Tool.Annotations(readOnlyHint: false, destructiveHint: false, openWorldHint: false)
    static let idempotent = Tool.Annotations(readOnlyHint: false, destructiveHint: false, idempotentHint: true,
                                             openWorldHint: false)
    static let destructive = Tool.Annotations(readOnlyHint: false, destructiveHint: true, openWorldHint: false)
}
