import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing

/// The file-based status agrees with `runc state` in every state a container passes through.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct ContainerStateTests {
    func runcSays(_ fixture: RuntimeFixture, _ id: String) async throws -> String? {
        let output = try await ChildProcess.run([fixture.runtime.runc, "--root", fixture.runtime.layout.runcRoot, "state", id])
        guard output.exitCode == 0,
              let object = try JSONSerialization.jsonObject(with: Data(output.stdout)) as? [String: Any] else { return nil }
        return object["status"] as? String
    }

    @Test func fileStatusMatchesRunc() async throws {
        try await RuntimeFixture.run { fixture in
            let spec = fixture.spec()
            let root = fixture.runtime.layout.runcRoot
            #expect(ContainerState.read(runcRoot: root, id: spec.id) == .status(nil))
            #expect(try await runcSays(fixture, spec.id) == nil)
            try await fixture.runtime.prepare(spec)
            try await fixture.runtime.start(spec)
            #expect(ContainerState.read(runcRoot: root, id: spec.id) == .status(.running))
            #expect(try await runcSays(fixture, spec.id) == "running")
            try await fixture.runtime.kill(spec.id, signal: SIGKILL)
            for _ in 0..<100 where try await runcSays(fixture, spec.id) == "running" {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await runcSays(fixture, spec.id) == "stopped")
            #expect(ContainerState.read(runcRoot: root, id: spec.id) == .status(.stopped))
            try await fixture.runtime.destroy(spec.id)
            #expect(ContainerState.read(runcRoot: root, id: spec.id) == .status(nil))
        }
    }
}
