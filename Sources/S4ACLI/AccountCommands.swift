import ArgumentParser
import Foundation
import S4AClient
import S4AContract

/// `s4a account show|limit|password|export|delete`: the signed-in account.
struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account",
        abstract: "The account: show it, its spending limit, its password, export it, delete it (a person's session only).",
        subcommands: [Show.self, Limit.self, Password.self, Export.self, Delete.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export", abstract: "Download all of the account's data as a .tar.gz (asks for the password).",
            discussion: """
            Holds every record of the account as JSON (secret names, never values; API keys, never tokens).             With --include-files, each running server's files too. With --password-stdin the first line of             standard input is the password.
            """)
        @OptionGroup var client: ClientOptions
        @Option(name: [.short, .customLong("output")], help: "Where to write it (default s4a-export-<date>.tar.gz; - for standard output).")
        var output: String?
        @Flag(help: "Add each running server's files.") var includeFiles = false
        @Flag(help: "Read the password from standard input instead of prompting.") var passwordStdin = false

        func run() async throws {
            let password = try LoginCommand.readPassword(fromStdin: passwordStdin, prompt: "Password: ")
            let includeFiles = self.includeFiles, json = client.json
            let day = Date().formatted(.iso8601.year().month().day())
            let destination = output ?? "s4a-export-\(day).tar.gz"
            try await withConnection(client) { connection in
                let link: Components.Schemas.ExportLink
                switch try await connection.client.createExport(query: .init(includeFiles: includeFiles),
                                                                body: .json(.init(password: password))) {
                case .created(let created): link = try created.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
                // The link's token is its last path segment; the download needs no other credential.
                let token = String(link.downloadUrl.split(separator: "/").last ?? "")
                switch try await connection.client.downloadExport(path: .init(token: token)) {
                case .ok(let ok):
                    let bytes = try await Output.save(try ok.body.applicationGzip, to: destination)
                    if json {
                        try Output.json(["file": destination, "bytes": "\(bytes)"])
                    } else if destination != "-" {
                        Swift.print("Wrote \(destination) (\(bytes) bytes).")
                    }
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete", abstract: "Delete the account, its servers (disks included), secrets and every record of it.",
            discussion: """
            Cannot be undone: every project's data key is destroyed first, so no secret can be opened again, not even             from a backup. Give the account's email to --confirm; the password is asked for (or, with             --password-stdin, read from standard input).
            """)
        @OptionGroup var client: ClientOptions
        @Option(help: "The account's email, typed out, to confirm.") var confirm: String
        @Flag(help: "Read the password from standard input instead of prompting.") var passwordStdin = false

        func run() async throws {
            let confirm = self.confirm, json = client.json
            let password = try LoginCommand.readPassword(fromStdin: passwordStdin, prompt: "Password: ")
            try await withConnection(client) { connection in
                let account: Components.Schemas.Account
                switch try await connection.client.getAccount() {
                case .ok(let ok): account = try ok.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
                guard confirm.trimmingCharacters(in: .whitespaces).lowercased() == account.email.lowercased() else {
                    throw CommandFailure(message: "--confirm does not match the account's email; nothing was deleted.")
                }
                let finished: Bool
                switch try await connection.client.deleteAccount(body: .json(.init(password: password))) {
                case .noContent: finished = true
                case .accepted: finished = false
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
                if json {
                    try Output.json(["deleted": true, "finished": finished])
                } else {
                    Swift.print(finished ? "Deleted \(account.email) and everything of it."
                                : "Deletion of \(account.email) started; the platform finishes it. The account can no longer be used.")
                }
            }
        }
    }

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
        @Flag(help: "Set a limit below what the servers may already spend (it can stop them; without --yes it is refused with what it would stop).")
        var yes = false

        func validate() throws {
            guard (amount == nil) == remove else { throw ValidationError("Give an amount or --remove.") }
        }

        func run() async throws {
            let json = client.json
            try await withConnection(client) { connection in
                if let amount {
                    switch try await connection.client.updateAccount(body: .json(.init(spendingLimitUsd: .Money(amount),
                                                                                        confirm: yes ? true : nil))) {
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
