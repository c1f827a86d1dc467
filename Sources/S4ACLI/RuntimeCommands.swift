import ArgumentParser
import Foundation
import S4ARuntime

/// Operator tools for the isolation runtime of one data directory.
struct RuntimeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtime", abstract: "Operator tools for the servers' runtime (runc, disks, mounts).",
        subcommands: [DestroyAll.self])

    struct DestroyAll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "destroy-all",
            abstract: "Stop and destroy every server of a data directory, disks included (for uninstalling and tests).",
            discussion: "Run it with the control plane stopped: the store still lists the servers, which then come up failed.")

        @Option(help: "The data directory.") var dataDir = "./.s4a"
        @Flag(help: "Confirm: this destroys every server's disk.") var yes = false

        func run() async throws {
            guard yes else { throw CommandFailure(message: "This destroys every server and its disk; add --yes.", code: 2) }
            let runtime = try RuncRuntime(directory: URL(fileURLWithPath: dataDir).appendingPathComponent("runtime"))
            let removed = try await runtime.removeOrphans(keeping: [])
            print(removed.isEmpty ? "Nothing to remove." : removed.joined(separator: "\n"))
        }
    }
}

/// `s4a template list|build`: the base images servers start from.
struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template", abstract: "Server templates: the built-in base, and a Debian one built with debootstrap.",
        subcommands: [List.self, Build.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Templates available in a data directory.")
        @Option(help: "The data directory.") var dataDir = "./.s4a"

        func run() async throws {
            let runtime = try RuncRuntime(directory: URL(fileURLWithPath: dataDir).appendingPathComponent("runtime"))
            for name in try await runtime.templates() { print(name) }
        }
    }

    struct Build: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a template; `debian` runs debootstrap (needs the debootstrap package and Debian's mirror).",
            discussion: "Servers created afterwards may name it: {\"template\": \"debian\"}. It carries its own /usr.")
        @Argument(help: "The template to build (debian).") var name: String
        @Option(help: "The data directory.") var dataDir = "./.s4a"
        @Option(help: "Debian suite.") var suite = "bookworm"
        @Option(help: "Debian mirror.") var mirror = "http://deb.debian.org/debian"

        func run() async throws {
            guard name == DebianTemplate.name else { throw ValidationError("Only the debian template can be built; base is built in.") }
            let runtime = URL(fileURLWithPath: dataDir).appendingPathComponent("runtime")
            _ = try RuncRuntime(directory: runtime)  // lays out the runtime directory
            _ = try await DebianTemplate.build(runtimeDirectory: runtime, suite: suite, mirror: mirror) { print($0) }
        }
    }
}

/// `s4a supervise SERVER --processes|--lease`: a server's process supervisor or its lease
/// watchdog, started by the runtime (never by hand); each reads its spec from stdin.
struct SuperviseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervise", abstract: "Internal: supervise a server's processes or enforce its lease.", shouldDisplay: false)

    @Argument(help: "The server.") var server: String
    @Flag(help: "Supervise the server's long-running processes.") var processes = false
    @Flag(help: "Enforce the server's lease instead (its watchdog).") var lease = false

    func validate() throws {
        guard processes != lease else { throw ValidationError("Say --processes or --lease.") }
    }

    func run() async throws {
        let code = lease ? await LeaseWatchdog.main() : await Supervisor.main()
        if code != 0 { throw CommandFailure(message: "", code: code, silent: true) }
    }
}
