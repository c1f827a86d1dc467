import Foundation
import Logging
import MCP
import S4AClient

/// The MCP server for agents: the catalogue's tools and each server's logs as resources,
/// every call made through the API with the caller's credentials (`APIAccess`). Failures
/// come back as tool results with `isError` and the API's problem, never as crashes.
public enum AgentMCPServer {
    public static let instructions = """
        Server4Agent gives you real Linux servers with hard budget caps. A typical path: \
        create_project → create_server (with a budget_usd cap) → write_file your app → deploy it \
        (it must listen on $PORT) → attach the server to the project. The project's URL serves the app \
        only once a person makes the project public. Use exec to run commands, get_logs to see what \
        the app printed and who it served, get_usage to watch spend. Tools you do not see are not \
        allowed to your API key.
        """

    /// A server ready to `start(transport:)`.
    public static func make(access: any APIAccess, mask: SecretMask = SecretMask(), version: String = "0.1.0") async -> Server {
        let server = Server(
            name: "server4agent", version: version, title: "Server4Agent", instructions: instructions,
            capabilities: .init(resources: .init(subscribe: false, listChanged: false), tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in
            ListTools.Result(tools: try await offered(access).map(\.tool))
        }
        await server.withMethodHandler(CallTool.self) { parameters in
            await call(parameters, access: access, mask: mask)
        }
        await server.withMethodHandler(ListResources.self) { _ in
            do {
                return ListResources.Result(resources: try await access.withConnection { try await LogResources.list($0) })
            } catch {
                throw MCPError.internalError(await mask.scrub(ToolOutput.describe(error)))
            }
        }
        await server.withMethodHandler(ListResourceTemplates.self) { _ in
            ListResourceTemplates.Result(templates: [LogResources.template])
        }
        await server.withMethodHandler(ReadResource.self) { parameters in
            let text: String
            do {
                text = try await access.withConnection { try await LogResources.read(parameters.uri, $0) }
            } catch is ToolInputError {
                throw MCPError.invalidParams("Unknown resource \(parameters.uri); server logs are s4a://servers/{server_id}/logs.")
            } catch {
                throw MCPError.internalError(await mask.scrub(ToolOutput.describe(error)))
            }
            return ReadResource.Result(contents: [.text(await mask.scrub(text), uri: parameters.uri, mimeType: "text/plain")])
        }
        return server
    }

    /// The tools this caller's key may use. When its scopes cannot be read, the tools every
    /// key might use are offered (without set_visibility and set_budget) and the API decides.
    static func offered(_ access: any APIAccess) async throws -> [ToolDefinition] {
        do {
            let scopes = try await access.withConnection { try await KeyScopes.of($0) }
            return ToolCatalogue.all.filter { $0.isOffered(to: scopes) }
        } catch let problem as APIProblem where problem.status == 401 {
            throw MCPError.invalidRequest("The API key was refused: \(problem.description)")
        } catch {
            let granted = Set(ToolCatalogue.grantedTools.map(\.name))
            return ToolCatalogue.all.filter { !granted.contains($0.name) }
        }
    }

    static func call(_ parameters: CallTool.Parameters, access: any APIAccess, mask: SecretMask) async -> CallTool.Result {
        // The value of this very call is masked even before it is remembered.
        let secret = parameters.name == "set_secret" ? parameters.arguments?["value"].flatMap(ToolArguments.text) : nil
        let output = await run(parameters, access: access, mask: mask)
        var text = await mask.scrub(output.text)
        if let secret, !secret.isEmpty { text = text.replacingOccurrences(of: secret, with: "[secret]") }
        return CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)], isError: output.isError ? true : nil)
    }

    static func run(_ parameters: CallTool.Parameters, access: any APIAccess, mask: SecretMask) async -> ToolOutput {
        guard let tool = ToolCatalogue.named(parameters.name) else {
            let names = ToolCatalogue.all.map(\.name).joined(separator: ", ")
            return ToolOutput(text: "Unknown tool '\(parameters.name)'. Tools: \(names).", isError: true)
        }
        do {
            let arguments = try ToolArguments(parameters.arguments, schema: tool.inputSchema)
            if tool.name == "set_secret", let value = arguments.optionalString("value") { await mask.remember(value) }
            return try await access.withConnection { connection in
                let scopes = try await KeyScopes.of(connection)
                guard tool.isOffered(to: scopes) else {
                    let missing = tool.scopes.filter { !scopes.contains($0) }.joined(separator: ", ")
                    throw ToolInputError("This API key may not use \(tool.name): it needs the \(missing) scope. "
                                         + "Ask the person who gave you the key.")
                }
                return try await tool.run(arguments, connection)
            }
        } catch {
            return .failure(error)
        }
    }
}

extension AgentMCPServer {
    /// MCP over this process's stdin and stdout until the client closes stdin.
    public static func serveStdio(access: any APIAccess) async throws {
        let server = await make(access: access)
        try await server.start(transport: StdioTransport())
        await server.waitUntilCompleted()
        await server.stop()
    }
}
