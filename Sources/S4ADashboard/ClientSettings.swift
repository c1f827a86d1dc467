import Foundation

/// How an agent's client reaches this control plane: the MCP client configuration and the
/// `S4A_*` variables, in the README's shape, filled in for a new key.
struct ClientSettings: Sendable {
    var apiURL: String
    /// nil: the API's certificate is publicly trusted (no CA to name).
    var caCertificatePath: String?

    private var variables: [(String, String)] {
        [("S4A_API_URL", apiURL)] + [("S4A_API_KEY", "{token}")]
            + (caCertificatePath.map { [("S4A_CA_CERT", $0)] } ?? [])
    }

    /// The `mcpServers` entry for an MCP client that runs `s4a mcp`.
    func mcpConfiguration(token: String) -> String {
        let env = variables.map { name, value in
            "        \"\(name)\": " + Self.json(value == "{token}" ? token : value)
        }.joined(separator: ",\n")
        return """
        {
          "mcpServers": {
            "server4agent": {
              "command": "s4a",
              "args": ["mcp"],
              "env": {
        \(env)
              }
            }
          }
        }
        """
    }

    /// `export` lines for a shell (the CLI and the MCP server read the same variables).
    func environmentBlock(token: String) -> String {
        variables.map { name, value in "export \(name)=" + Self.shellWord(value == "{token}" ? token : value) }
            .joined(separator: "\n")
    }

    static func json(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }

    /// The text as one shell word: bare when it is plainly safe, else single-quoted.
    static func shellWord(_ text: String) -> String {
        let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,:/@%+=")
        if !text.isEmpty, text.unicodeScalars.allSatisfy(plain.contains) { return text }
        return "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
