import ArgumentParser
import Foundation
import S4AClient
import S4AContract
import S4ADomain
import S4AServer
import S4AStore

/// `s4a secret set|list|delete`: values go in (from stdin or a prompt, never argv) and never come out.
struct SecretCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret", abstract: "Secrets: sealed in the vault, given to a server's processes as environment variables.",
        discussion: """
        printf %s "$TOKEN" | s4a secret set STRIPE_KEY --project my-app      # every server of the project
        s4a secret set DATABASE_URL --server srv_…                        # prompts; this server only, wins
        """,
        subcommands: [Set.self, List.self, Delete.self])

    /// Exactly one of --project and --server.
    struct Target: ParsableArguments {
        @Option(help: "A project (id or slug): the secret goes to each of its servers.") var project: String?
        @Option(help: "A server's id: the secret goes to it only, over a project secret of that name.") var server: String?

        func validate() throws {
            guard (project == nil) != (server == nil) else { throw ValidationError("Give either --project or --server.") }
        }

        func projectID(_ connection: APIConnection) async throws -> String {
            try await ProjectCommand.id(project ?? "", connection)
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a secret; the value is read from stdin (or a prompt).")
        @OptionGroup var client: ClientOptions
        @OptionGroup var target: Target
        @Argument(help: "The name, an environment variable name such as API_TOKEN.") var name: String

        func run() async throws {
            let value = try Self.readValue()
            let secret = try await withConnection(client) { connection -> Components.Schemas.Secret in
                if let server = target.server {
                    switch try await connection.client.setServerSecret(
                        path: .init(serverId: try await References.serverID(server, connection), name: name), body: .json(.init(value: value))) {
                    case .ok(let ok): return try ok.body.json
                    case .default(let status, let problem): throw APIProblem(status: status, problem)
                    }
                }
                let project = try await target.projectID(connection)
                switch try await connection.client.setProjectSecret(
                    path: .init(projectId: project, name: name), body: .json(.init(value: value))) {
                case .ok(let ok): return try ok.body.json
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(secret) } else { print("Set \(secret.name) (\(secret.scope.rawValue), version \(secret.version)).") }
        }

        /// A prompt without echo on a terminal; else all of stdin (one trailing newline dropped).
        static func readValue() throws -> String {
            if isatty(STDIN_FILENO) == 1, let raw = getpass("Value: ") {
                let value = String(cString: raw)
                guard !value.isEmpty else { throw ValidationError("No value given.") }
                return value
            }
            var value = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            if value.hasSuffix("\n") { value.removeLast() }
            guard !value.isEmpty else { throw ValidationError("No value on standard input.") }
            return value
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a project's or a server's secrets (names only).")
        @OptionGroup var client: ClientOptions
        @OptionGroup var target: Target

        func run() async throws {
            let items = try await withConnection(client) { connection -> [Components.Schemas.Secret] in
                if let server = target.server {
                    switch try await connection.client.listServerSecrets(path: .init(serverId: try await References.serverID(server, connection))) {
                    case .ok(let ok): return try ok.body.json.items
                    case .default(let status, let problem): throw APIProblem(status: status, problem)
                    }
                }
                let project = try await target.projectID(connection)
                switch try await connection.client.listProjectSecrets(path: .init(projectId: project)) {
                case .ok(let ok): return try ok.body.json.items
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { return try Output.json(items) }
            Output.table(["name", "scope", "version", "updated"],
                         items.map { [$0.name, $0.scope.rawValue, "\($0.version)", Output.date($0.updatedAt)] })
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a secret; processes started afterwards no longer get it.")
        @OptionGroup var client: ClientOptions
        @OptionGroup var target: Target
        @Argument(help: "The name.") var name: String

        func run() async throws {
            try await withConnection(client) { connection in
                if let server = target.server {
                    switch try await connection.client.deleteServerSecret(path: .init(serverId: try await References.serverID(server, connection), name: name)) {
                    case .noContent: return
                    case .default(let status, let problem): throw APIProblem(status: status, problem)
                    }
                }
                let project = try await target.projectID(connection)
                switch try await connection.client.deleteProjectSecret(path: .init(projectId: project, name: name)) {
                case .noContent: return
                case .default(let status, let problem): throw APIProblem(status: status, problem)
                }
            }
            if client.json { try Output.json(["deleted": name]) } else { print("Deleted \(name).") }
        }
    }
}

/// `s4a vault rotate-master-key`: operator tools for the master key, on the store directly.
struct VaultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault", abstract: "Operator tools for the vault's master key.", subcommands: [Rotate.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-master-key",
            abstract: "Re-wrap every project's data key under a new master key, in one transaction; values are untouched.",
            discussion: """
            The current key is read as `s4a serve` reads it (S4A_MASTER_KEY, --master-key-file, <data-dir>/master.key). \
            Afterwards start the control plane with the new key; the old one opens nothing. Activity events are \
            sealed (MAC) under the new key in the same transaction; checkpoints signed under the old key are no longer \
            checked, and the next start writes new ones.
            """)
        @Option(help: "The data directory.") var dataDir = "./.s4a"
        @Option(help: "A postgres:// URL instead of the data directory's SQLite (S4A_DATABASE_URL).") var databaseURL: String?
        @Option(help: "The current master key file (default <data-dir>/master.key).") var masterKeyFile: String?
        @Option(help: "The new master key file (base64 of 32 bytes); made if it does not exist.") var newKeyFile: String
        @Option(help: "The project key directory (S4A_PROJECT_KEY_DIR; default <data-dir>/project-keys).") var projectKeyDir: String?

        func run() async throws {
            var options = ServeOptions()
            options.dataDirectory = dataDir
            let environment = ProcessInfo.processInfo.environment
            options.masterKeyFile = masterKeyFile ?? environment["S4A_MASTER_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            options.masterKeyBase64 = environment["S4A_MASTER_KEY"].flatMap { $0.isEmpty ? nil : $0 }
            guard options.masterKeyBase64 != nil || FileManager.default.fileExists(atPath: options.masterKeyFile ?? options.defaultMasterKeyPath) else {
                throw CommandFailure(message: "No current master key found.")
            }
            let old = try MasterKeyFile.loadExisting(options)
            let new: MasterKey
            if FileManager.default.fileExists(atPath: newKeyFile) {
                new = try MasterKey(base64: String(decoding: FileManager.default.contents(atPath: newKeyFile) ?? Data(), as: UTF8.self))
            } else {
                new = MasterKey.generate()
                try MasterKeyFile.create(new, at: newKeyFile)
            }
            let url = databaseURL ?? environment["S4A_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
            let store = try await SQLStore.open(url: url, sqlitePath: options.sqlitePath, migrate: true,
                                                auditKeys: try AuditKeys(master: old))
            do {
                options.projectKeyDirectoryOverride = projectKeyDir ?? environment["S4A_PROJECT_KEY_DIR"].flatMap { $0.isEmpty ? nil : $0 }
                let keyring = try ProjectKeyDirectory(path: options.projectKeyDirectory)
                let count = try await SecretService.rotateMasterKey(store: store, keyring: keyring, from: old, to: new)
                await store.close()
                print("Re-wrapped \(count) project data keys; the master key is now \(new.fingerprint) (\(newKeyFile)).")
            } catch {
                await store.close()
                throw CommandFailure(message: "Nothing changed: \(error)")
            }
        }
    }
}
