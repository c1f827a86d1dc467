import ArgumentParser
import Foundation
import S4AMCP

/// `s4a mcp`: the MCP server for agents on stdio, calling the API with the caller's key.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp", abstract: "Speak MCP on stdio: the platform's operations as tools for an agent.",
        discussion: """
        Configure your MCP client to run `s4a mcp` with S4A_API_URL and S4A_API_KEY (and S4A_CA_CERT for a
        local CA) in its environment. The tools offered follow the key's scopes; every call goes through
        the API with that key, so its project restriction and budget ceiling apply.
        """)

    @OptionGroup var client: ClientOptions

    func run() async throws {
        // exec takes timeouts of up to an hour; a call may wait that long (and a little more).
        let connection = try client.connect(timeout: .minutes(62))
        do {
            try await AgentMCPServer.serveStdio(access: FixedAPIAccess(connection: connection))
        } catch {
            await connection.shutdown()
            throw error
        }
        await connection.shutdown()
    }
}
