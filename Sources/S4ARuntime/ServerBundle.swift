import Foundation
import S4ADomain

/// The OCI configuration of one server, generated from its spec.
enum ServerBundle {
    /// `standalone`: the template has its own /usr (debian); otherwise the host's is bound read-only.
    static func spec(for spec: ContainerSpec, rootfs: String, standalone: Bool = false) -> OCISpec {
        OCISpec(
            process: process(args: [initPath, "-s", "-g", "--", "sleep", "infinity"], env: [:], cwd: "/", hostname: spec.id),
            root: .init(path: rootfs, readonly: false),
            hostname: spec.id,
            mounts: mounts(spec, standalone: standalone),
            linux: linux(spec))
    }

    /// Where the host's static tini appears in every server, whatever its template.
    static let initPath = "/.s4a/tini"

    static func mounts(_ spec: ContainerSpec, standalone: Bool) -> [OCISpec.Mount] {
        var mounts: [OCISpec.Mount] = [
            .init(destination: initPath, type: "bind", source: RuncRuntime.tini, options: ["bind", "ro", "nosuid", "nodev"]),
            .init(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
            .init(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
            .init(destination: "/dev/pts", type: "devpts", source: "devpts",
                  options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
            .init(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
            .init(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
            .init(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
            .init(destination: "/tmp", type: "tmpfs", source: "tmpfs",
                  options: ["nosuid", "nodev", "mode=1777", "size=\(max(16, spec.memoryMB / 4))m"]),
            .init(destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755", "size=16m"]),
        ]
        if !standalone {
            // The host's programs, read-only; owned by unmapped uids, they appear as nobody's.
            mounts.append(.init(destination: "/usr", type: "bind", source: "/usr", options: ["rbind", "ro", "nosuid", "nodev"]))
        }
        return mounts
    }

    static func linux(_ spec: ContainerSpec) -> OCISpec.Linux {
        let mapping = [OCISpec.IDMapping(containerID: 0, hostID: spec.hostUIDBase, size: spec.uidCount)]
        let memory = Int64(spec.memoryMB) << 20
        return .init(
                uidMappings: mapping, gidMappings: mapping,
                namespaces: ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"].map(OCISpec.Namespace.init),
                cgroupsPath: "/s4a/\(spec.id)",
                resources: .init(
                    memory: .init(limit: memory, swap: memory),
                    cpu: .init(quota: Int64(spec.cpuMillis) * 100, period: 100_000),
                    pids: .init(limit: Int64(spec.pidsLimit)),
                    devices: [.init(allow: false, access: "rwm")]),
                maskedPaths: maskedPaths, readonlyPaths: ["/proc/bus", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
                seccomp: SeccompProfile.spec)
    }

    /// Docker's masks, and what would show a server its neighbours through the host's kernel:
    /// block devices (each server's disk is a loop device whose backing file names the server,
    /// with its I/O counters), the filesystems mounted on them (/sys/fs/ext4, /proc/fs) and the
    /// host disks' I/O. An empty read-only tmpfs (or /dev/null) covers each.
    static var maskedPaths: [String] {
        ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
         "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
         "/proc/fs", "/proc/diskstats", "/proc/partitions", "/sys/block", "/sys/class/block", "/sys/dev/block",
         "/sys/devices/virtual/block", "/sys/class/bdi", "/sys/devices/virtual/bdi", "/sys/fs/ext4", "/sys/fs/btrfs",
         "/sys/fs/xfs"] + hostDiskDirectories()
    }

    /// The directories of the host's real disks (under their bus, e.g. …/virtio1/block/vda or
    /// …/nvme/nvme0/nvme0n1; their partitions are inside): virtual ones are masked as a whole above.
    static func hostDiskDirectories() -> [String] {
        let devices = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/block")) ?? []
        return devices.compactMap { name -> String? in
            guard !FileManager.default.fileExists(atPath: "/sys/class/block/\(name)/partition") else { return nil }
            let path = URL(fileURLWithPath: "/sys/class/block/" + name).resolvingSymlinksInPath().path
            guard path.hasPrefix("/sys/devices/"), !path.hasPrefix("/sys/devices/virtual/") else { return nil }
            return path
        }.sorted()
    }

    /// A process of the server: root inside (an unprivileged uid outside), reduced capabilities,
    /// no new privileges, the caller's environment over a minimal default.
    static func process(args: [String], env: [String: String], cwd: String, hostname: String) -> OCISpec.Process {
        var environment = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": Server.home,
                           "LANG": "C.UTF-8", "HOSTNAME": hostname, "TERM": "xterm"]
        environment.merge(env) { $1 }
        return OCISpec.Process(
            args: args, env: environment.keys.sorted().map { "\($0)=\(environment[$0]!)" }, cwd: cwd,
            capabilities: .server,
            rlimits: [.init(type: "RLIMIT_NOFILE", hard: 4096, soft: 4096)])
    }
}
