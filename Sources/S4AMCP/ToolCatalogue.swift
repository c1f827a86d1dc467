/// Every tool the MCP server knows, in the order they are listed. Which of them a caller
/// sees depends on its key's scopes (`ToolDefinition.scopes`): `set_visibility` and
/// `set_budget` appear only for keys with `projects:publish` / `budget:write`.
enum ToolCatalogue {
    static let all: [ToolDefinition] = projectTools + serverTools + runTools + fileTools + observationTools
        + secretTools + drainTools + grantedTools

    static func named(_ name: String) -> ToolDefinition? { all.first { $0.name == name } }
}
