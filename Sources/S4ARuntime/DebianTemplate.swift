import Foundation

/// `s4a template build debian`: a self-contained Debian root built by `debootstrap` from
/// Debian's packages. Unlike `base` it brings its own /usr (nothing of the host is mounted).
public enum DebianTemplate {
    public static let name = "debian"
    /// Packages beyond debootstrap's minimal base, so it matches `base`: python3 and git.
    static let packages = ["python3", "git", "ca-certificates", "procps"]

    /// Builds the template into the runtime at `directory`, replacing an older build only
    /// once the new one is complete. Returns the template's root.
    public static func build(runtimeDirectory directory: URL, suite: String, mirror: String,
                             progress: @Sendable (String) -> Void) async throws -> String {
        let layout = RuntimeLayout(root: directory)
        let target = layout.templateRootfs(name)
        let staging = target + ".building"
        try? FileManager.default.removeItem(atPath: staging)
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        progress("debootstrap \(suite) from \(mirror) (a few minutes)")
        let output = try await ChildProcess.run(
            ["debootstrap", "--variant=minbase", "--include=\(packages.joined(separator: ","))", suite, staging, mirror],
            timeout: .seconds(1800))
        guard output.exitCode == 0 else {
            try? FileManager.default.removeItem(atPath: staging)
            throw RuntimeError.failed("debootstrap failed: \(output.stderrText.suffix(400))")
        }
        // No host identity in the template: machine id, SSH host keys and apt caches go.
        for path in ["etc/machine-id", "var/lib/dbus/machine-id", "var/cache/apt/archives", "etc/ssh"] {
            try? FileManager.default.removeItem(atPath: "\(staging)/\(path)")
        }
        try FileManager.default.createDirectory(atPath: "\(staging)/.s4a", withIntermediateDirectories: true)
        try "".write(toFile: "\(staging)/.s4a/tini", atomically: true, encoding: .utf8)  // tini's mount point
        for directory in BaseTemplate.ownedDirectories {
            try FileManager.default.createDirectory(atPath: "\(staging)/\(directory)", withIntermediateDirectories: true)
        }
        try "standalone".write(toFile: staging + "/.s4a-template", atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: target)
        try FileManager.default.moveItem(atPath: staging, toPath: target)
        progress("template \(name) is ready at \(target)")
        return target
    }

    /// Whether a template brings its own /usr instead of the host's.
    static func isStandalone(_ rootfs: String) -> Bool {
        (try? String(contentsOfFile: rootfs + "/.s4a-template", encoding: .utf8)) == "standalone"
    }
}
