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
