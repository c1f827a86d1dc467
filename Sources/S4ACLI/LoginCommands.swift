import ArgumentParser
import Foundation
import S4AClient
import S4AContract

struct LoginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "login", abstract: "Sign in as a person and save the session for later commands.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Your account's email.") var email: String
    @Flag(help: "Read the password from standard input instead of prompting.") var passwordStdin = false

    func run() async throws {
        let password = try Self.readPassword(fromStdin: passwordStdin)
        let session = try await withConnection(client, authenticated: false) { connection in
            switch try await connection.client.createSession(body: .json(.init(email: email, password: password))) {
            case .created(let created): return try created.body.json
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
        let existing = CLIConfig.load()
        let config = CLIConfig(apiURL: try client.resolvedURL(existing).absoluteString, token: session.token,
                               caCert: client.resolvedCA(existing))
        try config.save()
        if client.json {
            try Output.json(["api_url": config.apiURL, "expires_at": Output.date(session.expiresAt)])
        } else {
            print("Signed in to \(config.apiURL) until \(Output.date(session.expiresAt)); saved to \(CLIConfig.path.path)")
        }
    }

    /// Prompts on a terminal (no echo), else reads one line of standard input.
    static func readPassword(fromStdin: Bool, prompt: String = "Password: ") throws -> String {
        if !fromStdin, isatty(STDIN_FILENO) == 1, let raw = getpass(prompt) {
            return String(cString: raw)
        }
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("No password on standard input.")
        }
        return line
    }
}

struct LogoutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logout", abstract: "End the saved session.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        guard let config = CLIConfig.load(), config.token != nil else {
            print("Not signed in.")
            return
        }
        // The saved session, not S4A_API_KEY: logging out ends the person's session.
        try await withConnection(client, token: config.token) { connection in
            switch try await connection.client.deleteCurrentSession() {
            case .noContent: return
            case .default(let status, _) where status == 401: return // already ended on the server
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
        try CLIConfig(apiURL: config.apiURL, token: nil, caCert: config.caCert).save()
        if client.json { try Output.json(["signed_out": true]) } else { print("Signed out.") }
    }
}
