import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing

/// Shells on a real pseudo-terminal inside a server (runc's console socket).
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct ShellTests {
    /// Collects a shell's output until `text` appears (or 10 s pass).
    final class Screen: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: [UInt8] = []
        var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }

        init(_ session: any ShellSession) {
            Task {
                for await chunk in session.output { lock.withLock { bytes += chunk } }
            }
        }

        func waitFor(_ text: String) async throws {
            for _ in 0..<200 {
                if self.text.contains(text) { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("never saw \(text.debugDescription) in \(self.text.debugDescription)")
        }
    }

    @Test func aShellHasATerminalTakesInputResizesAndExits() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let session = try await fixture.runtime.shell(spec.id, ShellRequest(
                    argv: ["/bin/sh"], env: ["PS1": "$ "], size: TerminalSize(columns: 100, rows: 30)))
                let screen = Screen(session)
                await session.write(Array("stty size; tty; echo $((6*7))x\n".utf8))
                try await screen.waitFor("42x")
                #expect(screen.text.contains("30 100"))
                #expect(screen.text.contains("/dev/pts/0"))
                session.resize(TerminalSize(columns: 132, rows: 50))
                await session.write(Array("stty size\n".utf8))
                try await screen.waitFor("50 132")
                await session.write(Array("exit 3\n".utf8))
                #expect(await session.wait() == 3)
            }
        }
    }

    @Test func terminatingEndsTheShellAndWhatItStarted() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let session = try await fixture.runtime.shell(spec.id, ShellRequest(argv: ["/bin/sh"], env: ["PS1": "$ "]))
                let screen = Screen(session)
                await session.write(Array("sleep 777 & sleep 778; echo ne''ver\n".utf8))
                for _ in 0..<100 where try await fixture.sh(spec.id, "ps -eo args | grep -c '^sleep 77[78]'").out != "2\n" {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await fixture.sh(spec.id, "ps -eo args | grep -c '^sleep 77[78]'").out == "2\n")
                await session.terminate()
                let left = try await fixture.sh(spec.id, "ps -eo args | grep '^sleep 77' || true")
                #expect(left.out.isEmpty, "left behind: \(left.out)")
                #expect(!screen.text.contains("never"))
            }
        }
    }

    @Test func aStoppedServerHasNoShell() async throws {
        try await RuntimeFixture.run { fixture in
            let spec = fixture.spec()
            try await fixture.runtime.prepare(spec)
            try await fixture.runtime.stop(spec.id)
            await #expect(throws: RuntimeError.notRunning) {
                _ = try await fixture.runtime.shell(spec.id, ShellRequest(argv: ["/bin/sh"]))
            }
            try await fixture.runtime.destroy(spec.id)
        }
    }
}
