import Foundation
import Glibc
@testable import S4ARuntime
import Testing

/// What a child the host starts inherits: its standard descriptors and what the call hands it
/// (fd 3), never the control plane's other descriptors, close-on-exec or not (a database
/// socket held by a lease keeper that outlives a crashed control plane keeps its transaction,
/// and its locks, open).
@Suite struct ChildProcessTests {
    @Test func aChildInheritsOnlyWhatItIsGiven() async throws {
        // A pipe without O_CLOEXEC, as a library's socket may be.
        var leaky: [Int32] = [0, 0]
        #expect(pipe(&leaky) == 0)
        defer { close(leaky[0]); close(leaky[1]) }
        let plain = try await ChildProcess.run(["sh", "-c", "ls /proc/self/fd"])
        let open = Set(plain.stdoutText.split(separator: "\n").compactMap { Int32($0) })
        #expect(!open.contains(leaky[0]) && !open.contains(leaky[1]), "inherited: \(open.sorted())")
        // fd 3 when handed one, and still nothing else.
        let given = try await ChildProcess.run(["sh", "-c", "cat <&3; ls /proc/self/fd"], fd3: Array("spec\n".utf8))
        let lines = given.stdoutText.split(separator: "\n")
        #expect(lines.first == "spec")
        let openWithSpec = Set(lines.dropFirst().compactMap { Int32($0) })
        #expect(openWithSpec.contains(3) && !openWithSpec.contains(leaky[0]) && !openWithSpec.contains(leaky[1]),
                "inherited: \(openWithSpec.sorted())")
    }
}
