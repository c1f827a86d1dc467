import ArgumentParser
import Foundation
import S4AClient
import S4AContract

/// `s4a account show|limit`: the signed-in account and its spending limit.
struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account", abstract: "The account: show it, set or remove its spending limit (a person's session only).",
        subcommands: [Show.self, Limit.self, Password.self])

    struct Password: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "password", abstract: "Change the password (the current one, then the new one); other sessions end.",
            discussion: "With --password-stdin, the first line of standard input is the current password, the second the new one.")
        @OptionGroup var client: ClientOptions
        @Flag(help: "Read both passwords from standard input instead of prompting.") var passwordStdin = false

        func run() async throws {
            let current = try LoginCommand.readPassword(fromStdin: passwordStdin, prompt: "Current password: ")
            let new = try LoginCommand.readPassword(fromStdin: passwordStdin, prompt: "New password: ")
            let json = client.json
            try await withConnection(client) { connection in
                switch try await connection.client.changePassword(body: .json(.init(currentPassword: current, newPassword: new))) {
                case .noContent: if json { try Output.json(["changed": true]) } else { Swift.print("Password changed; other sessions ended.") }
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the account.")
        @OptionGroup var client: ClientOptions

        func run() async throws {
            let json = client.json
            try await withConnection(client) { connection in
                switch try await connection.client.getAccount() {
                case .ok(let ok): try AccountCommand.print(try ok.body.json, json: json)
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
        }
    }

    struct Limit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "limit",
            abstract: "Set what all servers together may ever spend, in USD (their caps plus what deleted ones spent).",
            discussion: "Examples: s4a account limit 50; s4a account limit --remove. API keys cannot change it.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The limit in USD, e.g. 50.") var amount: String?
        @Flag(help: "Remove the limit (each server's cap still holds).") var remove = false

        func validate() throws {
            guard (amount == nil) == remove else { throw ValidationError("Give an amount or --remove.") }
        }

        func run() async throws {
            let json = client.json
            try await withConnection(client) { connection in
                if let amount {
                    switch try await connection.client.updateAccount(body: .json(.init(spendingLimitUsd: .Money(amount)))) {
                    case .ok(let ok): try AccountCommand.print(try ok.body.json, json: json)
                    case .default(let status, let problem): throw APIProblem(status: status, problem)
                    }
                } else {
                    switch try await connection.client.deleteSpendingLimit() {
                    case .ok(let ok): try AccountCommand.print(try ok.body.json, json: json)
                    case .default(let status, let problem): throw APIProblem(status: status, problem)
                    }
                }
            }
        }
    }

    static func print(_ account: Components.Schemas.Account, json: Bool) throws {
        if json { return try Output.json(account) }
        Swift.print("\(account.email) (\(account.id)), since \(Output.date(account.createdAt))")
        Swift.print("Spending limit: " + (account.spendingLimitUsd.map { "$" + $0 } ?? "none (each server's cap holds)"))
    }
}
