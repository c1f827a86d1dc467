import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing

/// What a server sees of the host's kernel names no other server and no host directory.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct HostViewTests {
    /// Everything /sys and /proc show of block devices, filesystems and mounts.
    static let survey = """
        for d in /sys/block/* /sys/class/block/*; do cat "$d/loop/backing_file" "$d/stat"; done 2>/dev/null
        for f in /proc/self/mountinfo /proc/mounts /proc/self/mountstats /proc/partitions /proc/diskstats /proc/swaps; do
          echo "== $f"; cat "$f"
        done
        ls -laR /sys/block /sys/class/block /sys/dev/block /sys/class/bdi
        grep -rs . /sys/devices/virtual/block /sys/devices/virtual/bdi /sys/fs /proc/fs
        true
        """

    @Test func aServerSeesNoOtherServerNorTheRuntimeDirectory() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { a in
                try await fixture.withServer { b in
                    // The host does show B's disk there: what follows is the masks' doing.
                    let hostView = try await ChildProcess.run(["/bin/sh", "-c", "cat /sys/block/loop*/loop/backing_file"]).stdoutText
                    #expect(hostView.contains(b.id))
                    let survey = try await fixture.sh(a.id, Self.survey, limit: 16 << 20)
                    #expect(survey.out.contains("== /proc/self/mountinfo"), "\(survey.err)")
                    #expect(!survey.truncated)
                    let seen = survey.out + survey.err
                    for secret in [b.id, fixture.directory.path, fixture.runtime.layout.mountRoot] {
                        #expect(!seen.contains(secret), "\(secret) is visible")
                    }
                    #expect(!seen.contains("loop"), "loop devices are visible")
                    // Nor the I/O of the host's own disks, which is every server's together.
                    for disk in ServerBundle.hostDiskDirectories() {
                        #expect(FileManager.default.fileExists(atPath: disk + "/stat"))
                        #expect(try await fixture.sh(a.id, "cat '\(disk)/stat'").out.isEmpty, "\(disk)")
                    }
                    // The overlay's own options name no host directory.
                    let mounts = try await fixture.sh(a.id, "grep ' / / ' /proc/self/mountinfo").out
                    #expect(mounts.contains("upperdir=disk/upper"), "\(mounts)")
                }
            }
        }
    }
}
