import Foundation
import HTTPTypes
import MCP
import OpenAPIRuntime
import S4AClient
import S4AContract
@testable import S4AMCP
import Testing
import Yams

/// Every tool against the contract: the scopes a tool is offered under are the `x-s4a-scope` of
/// the operation it calls, and its arguments' ranges are the contract's. Each tool runs once over
/// a transport that records the operation asked for and answers 404, so nothing is guessed from
/// the tool's code.
@Suite struct ToolContractTests {
    /// Records operation ids; answers every call with a 404 problem.
    final class RecordingTransport: ClientTransport, @unchecked Sendable {
        private let lock = NSLock()
        private var ids: [String] = []
        var operations: [String] { lock.withLock { ids } }

        func send(_ request: HTTPTypes.HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String) async throws
            -> (HTTPTypes.HTTPResponse, HTTPBody?) {
            lock.withLock { ids.append(operationID) }
            var response = HTTPTypes.HTTPResponse(status: .notFound)
            response.headerFields[.contentType] = "application/problem+json"
            return (response, HTTPBody(#"{"type":"urn:s4a:problem:not-found","title":"Not Found","status":404,"detail":"No such resource."}"#))
        }
    }

    struct Contract {
        /// operationId → x-s4a-scope
        var scopes: [String: String] = [:]
        /// operationId → request body properties (name → schema)
        var properties: [String: [String: [String: Any]]] = [:]

        static func load() throws -> Contract {
            let document = try #require(try Yams.load(yaml: OpenAPIDocument.yaml()) as? [String: Any])
            let schemas = ((document["components"] as? [String: Any])?["schemas"] as? [String: Any]) ?? [:]
            var contract = Contract()
            for (_, item) in document["paths"] as? [String: Any] ?? [:] {
                for (_, value) in item as? [String: Any] ?? [:] {
                    guard let operation = value as? [String: Any], let id = operation["operationId"] as? String else { continue }
                    contract.scopes[id] = operation["x-s4a-scope"] as? String
                    var schema = (((operation["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"]
                        as? [String: Any])?["schema"] as? [String: Any]
                    if let reference = schema?["$ref"] as? String {
                        schema = schemas[String(reference.split(separator: "/").last!)] as? [String: Any]
                    }
                    contract.properties[id] = schema?["properties"] as? [String: [String: Any]]
                }
            }
            return contract
        }
    }

    /// Arguments that pass the tool's own checks: ids rather than names, so no lookup comes first.
    static func arguments(for tool: ToolDefinition) -> [String: Value] {
        let schema = tool.inputSchema.objectValue
        let properties = schema?["properties"]?.objectValue ?? [:]
        var values: [String: Value] = [:]
        for name in schema?["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] {
            let property = properties[name]?.objectValue ?? [:]
            if let first = property["enum"]?.arrayValue?.first { values[name] = first; continue }
            switch property["type"] {
            case .string("integer"): values[name] = .int(property["minimum"]?.intValue ?? 1)
            case .string("boolean"): values[name] = .bool(true)
            case .string("object"): values[name] = .object([:])
            case .string("array"): values[name] = .array([.string("logs")])
            case .array: values[name] = .string("1")  // money
            default:
                switch name {
                case "server_id", "server": values[name] = .string("srv_test")
                case "project", "project_id": values[name] = .string("prj_test")
                case "path", "dir": values[name] = .string("/srv/test")
                case "url": values[name] = .string("https://drain.example/in")
                case "name": values[name] = .string("TEST_NAME")
                default: values[name] = .string("test")
                }
            }
        }
        // Either a project or a server (set_secret): the project.
        if values["project"] == nil, values["server_id"] == nil, properties["project"] != nil { values["project"] = .string("prj_test") }
        return values
    }

    @Test func eachToolHasTheScopeAndRangesOfTheOperationItCalls() async throws {
        let contract = try Contract.load()
        var ranges = 0
        for tool in ToolCatalogue.all {
            let transport = RecordingTransport()
            let connection = APIConnection(baseURL: URL(string: "https://api.test")!, token: "s4a_test", transport: transport)
            let arguments = try ToolArguments(Self.arguments(for: tool), schema: tool.inputSchema)
            _ = try? await tool.run(arguments, connection)
            guard let operation = transport.operations.first else {
                Issue.record("\(tool.name) called no operation")
                continue
            }
            let scope = try #require(contract.scopes[operation], "\(tool.name) → \(operation) is not in the contract")
            // At least the operation's scope (a tool may ask more: publishing needs projects:publish too).
            #expect(tool.scopes.contains(scope), "\(tool.name) is offered under \(tool.scopes) but calls \(operation), which needs \(scope)")
            // An argument named as a field of that operation's body has the field's bounds.
            let fields = contract.properties[operation] ?? [:]
            for (name, property) in tool.inputSchema.objectValue?["properties"]?.objectValue ?? [:] {
                // A server argument is a reference (an id or project/name), resolved before the call.
                guard name != "server_id", let field = fields[name] else { continue }
                for key in ["minimum", "maximum", "maxLength"] {
                    guard let expected = field[key] as? Int else { continue }
                    let mine = property.objectValue?[key]?.intValue
                    #expect(mine == expected, "\(tool.name).\(name) \(key) is \(String(describing: mine)); \(operation) says \(expected)")
                    ranges += 1
                }
            }
        }
        #expect(ranges >= 5)
    }
}
