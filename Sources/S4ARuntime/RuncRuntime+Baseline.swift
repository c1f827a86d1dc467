import Foundation
import S4ADomain

extension RuncRuntime {
    /// The floor for benchmarks: `runc run` (foreground) of `/bin/true` in a bundle with the
    /// same namespaces, user mapping, limits and seccomp as a server, on the template's root
    /// mounted read-only: no disk image, no overlay, no control plane. Returns seconds.
    public func rawRuncRun(_ spec: ContainerSpec) async throws -> Double {
        let bundle = layout.root.appendingPathComponent("baseline-\(spec.id)").path
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: bundle) }
        let template = layout.templateRootfs(spec.template)
        var config = ServerBundle.spec(for: spec, rootfs: template, standalone: DebianTemplate.isStandalone(template))
        config.root.readonly = true
        config.process.args = ["/bin/true"]
        // Without the server's writable layer, /etc and friends come from the template as they are.
        try JSONEncoder().encode(config).write(to: URL(fileURLWithPath: bundle + "/config.json"))
        let started = ContinuousClock.now
        let output = try await ChildProcess.run([runc, "--root", layout.runcRoot, "run", "--bundle", bundle, spec.id])
        let elapsed = ContinuousClock.now - started
        guard output.exitCode == 0 else { throw RuntimeError.failed("baseline runc run: \(output.stderrText)") }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
