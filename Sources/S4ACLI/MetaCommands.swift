import ArgumentParser
import Foundation
import OpenAPIRuntime
import S4AClient
import S4AContract

/// `s4a health`, `s4a metrics`, `s4a openapi`, `s4a whoami`, `s4a signup`, `s4a completion`.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "health", abstract: "Check that the control plane answers.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let json = client.json
        try await withConnection(client, authenticated: false) { connection in
            switch try await connection.client.getHealth() {
            case .ok(let ok):
                let status = try ok.body.json.status
                if json { try Output.json(["status": status]) } else { print(status) }
            case .undocumented(let status, _): throw CommandFailure(message: "the control plane answered \(status)")
            }
        }
    }
}

struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "Print the platform's Prometheus metrics (loopback, or the operator's metrics token as S4A_API_KEY).")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withConnection(client) { connection in
            switch try await connection.client.getMetrics() {
            case .ok(let ok):
                FileHandle.standardOutput.write(Data(try await String(collecting: try ok.body.plainText, upTo: 16 << 20).utf8))
            case .notFound: throw CommandFailure(message: "metrics answer only loopback or the operator's token")
            case .undocumented(let status, _): throw CommandFailure(message: "the control plane answered \(status)")
            }
        }
    }
}

struct OpenAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "openapi", abstract: "Print the API's OpenAPI document (JSON).")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await withConnection(client, authenticated: false) { connection in
            switch try await connection.client.getOpenAPIDocument() {
            case .ok(let ok): try Output.json(try ok.body.json)
            case .undocumented(let status, _): throw CommandFailure(message: "the control plane answered \(status)")
            }
        }
    }
}

struct WhoamiCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whoami", abstract: "Show what the current credentials may do: a session (everything) or a key's scopes.")
    @OptionGroup var client: ClientOptions

    func run() async throws {
        let json = client.json
        try await withConnection(client) { connection in
            switch try await connection.client.getCurrentCredential() {
            case .ok(let ok):
                let credential = try ok.body.json
                if json { return try Output.json(credential) }
                if let key = credential.key {
                    print("API key \(key.id) (\(key.name)), prefix \(key.prefix)")
                } else {
                    print("A person's session")
                }
                print("Scopes: " + credential.scopes.map(\.rawValue).joined(separator: ", "))
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
    }
}

struct SignupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signup", abstract: "Create an account (then `s4a login`). The answer is the same whether or not the email had one.")
    @OptionGroup var client: ClientOptions
    @Option(help: "Your email.") var email: String
    @Flag(help: "Read the password from standard input instead of prompting.") var passwordStdin = false

    func run() async throws {
        let password = try LoginCommand.readPassword(fromStdin: passwordStdin)
        let json = client.json
        try await withConnection(client, authenticated: false) { connection in
            switch try await connection.client.createAccount(body: .json(.init(email: email, password: password))) {
            case .created(let created):
                let result = try created.body.json
                if json { try Output.json(result) } else { print("Signed up \(result.email). Sign in with: s4a login --email \(result.email)") }
            case .default(let status, let problem): throw APIProblem(status: status, problem)
            }
        }
    }
}

struct CompletionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "completion", abstract: "Print a shell completion script: s4a completion bash|zsh|fish.",
        discussion: "Example: s4a completion bash > /etc/bash_completion.d/s4a")
    @Argument(help: "bash, zsh or fish.") var shell: String

    func run() throws {
        guard let kind = CompletionShell(rawValue: shell) else { throw ValidationError("Choose bash, zsh or fish.") }
        print(S4ACommand.completionScript(for: kind))
    }
}
