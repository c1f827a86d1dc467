import Foundation
import MCP
@testable import S4AMCP
import Testing

@Suite struct ToolCatalogueTests {
    @Test func everyToolHasAUniqueNameADescriptionAScopeAndAClosedObjectSchema() {
        let names = ToolCatalogue.all.map(\.name)
        #expect(Set(names).count == names.count)
        for tool in ToolCatalogue.all {
            #expect(tool.description.count > 30, "\(tool.name)")
            #expect(!tool.scopes.isEmpty, "\(tool.name)")
            let schema = tool.inputSchema.objectValue
            #expect(schema?["type"] == "object", "\(tool.name)")
            #expect(schema?["additionalProperties"] == false, "\(tool.name)")
            let properties = Set(schema?["properties"]?.objectValue?.keys.map { $0 } ?? [])
            for required in schema?["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
                #expect(properties.contains(required), "\(tool.name): \(required)")
            }
        }
    }

    @Test func publishingAndBudgetsAreOfferedOnlyWithTheirScopes() {
        let agent: Set<String> = ["projects:read", "projects:write", "servers:read", "servers:write", "servers:exec",
                                  "secrets:write", "activity:read"]
        let offered = Set(ToolCatalogue.all.filter { $0.isOffered(to: agent) }.map(\.name))
        #expect(!offered.contains("set_visibility") && !offered.contains("set_budget"))
        #expect(offered.count == 22)  // 19 core tools and the three of log drains
        let granted = Set(ToolCatalogue.all.filter { $0.isOffered(to: agent.union(["projects:publish", "budget:write"])) }.map(\.name))
        #expect(granted == offered.union(["set_visibility", "set_budget"]))
        let reader = Set(ToolCatalogue.all.filter { $0.isOffered(to: ["servers:read"]) }.map(\.name))
        #expect(reader == ["list_servers", "get_server", "read_file", "list_files", "get_logs", "get_usage"])
    }

    @Test func argumentsAreCheckedAgainstTheSchema() throws {
        let exec = try #require(ToolCatalogue.named("exec")).inputSchema
        #expect(throws: ToolInputError.self) { try ToolArguments(["server_id": "srv_1"], schema: exec) }
        #expect(throws: ToolInputError.self) { try ToolArguments(["server_id": "srv_1", "command": "x", "nope": 1], schema: exec) }
        #expect(throws: ToolInputError.self) { try ToolArguments(["server_id": "srv_1", "command": 5], schema: exec) }
        #expect(throws: ToolInputError.self) { try ToolArguments(["server_id": "srv_1", "command": "x", "timeout": 0], schema: exec) }
        #expect(throws: ToolInputError.self) { try ToolArguments(["server_id": "srv_1", "command": "x", "env": ["A": 1]], schema: exec) }
        let ok = try ToolArguments(["server_id": "srv_1", "command": "ls", "timeout": 30.0, "cwd": .null], schema: exec)
        #expect(ok.optionalInt("timeout") == 30)
        #expect(ok.optionalString("cwd") == nil)
        let deploy = try #require(ToolCatalogue.named("deploy")).inputSchema
        #expect(throws: ToolInputError.self) { try ToolArguments(["server_id": "s", "command": "c", "restart": "sometimes"], schema: deploy) }
    }

    @Test func textThatLooksLikeADataURLIsKeptAsText() throws {
        let text = "data:text/plain;base64,aGVsbG8="
        let decoded = try JSONDecoder().decode(Value.self, from: Data("\"\(text)\"".utf8))
        #expect(ToolArguments.text(decoded) == text)
    }

    @Test func logResourceURIs() {
        #expect(LogResources.serverID(in: LogResources.uri("srv_abc")) == "srv_abc")
        #expect(LogResources.serverID(in: "s4a://servers//logs") == nil)
        #expect(LogResources.serverID(in: "s4a://servers/a/b/logs") == nil)
        #expect(LogResources.serverID(in: "file:///etc/passwd") == nil)
    }

    @Test func secretsAreScrubbedLongestFirst() async {
        let mask = SecretMask()
        await mask.remember("abc")
        await mask.remember("abcdef")
        #expect(await mask.scrub("x abcdef y abc") == "x [secret] y [secret]")
        let forgetful = SecretMask(remembers: false)
        await forgetful.remember("abc")
        #expect(await forgetful.scrub("abc") == "abc")
    }
}
