import Foundation
import Logging
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

/// The production `ContainerRuntime`: Debian's `runc` over a per-server ext4 disk image (loop
/// device) holding the writable layer of an overlay on a read-only template. Containers run
/// detached with tini as pid 1, so they keep running when the control plane stops.
public final class RuncRuntime: ContainerRuntime, @unchecked Sendable {
    let layout: RuntimeLayout
    let logger: Logger
    let runc: String
    /// The `s4a` binary that runs supervisors (`s4a supervise`).
    let supervisor: String?
    /// Supervised processes being started, per server (the limit counts them).
    let accessLogs = AccessLogWriters()
    /// Host-wide, shared with every other runtime on the host.
    let uidBlocks: UIDBlockRegistry

    /// `uidBlocks`: where the host's uid blocks are registered; the default is the host's one
    /// (tests name their own).
    public init(directory: URL, logger: Logger = Logger(label: "s4a.runtime"), supervisor: String? = nil,
                uidBlocks: URL? = nil) throws {
        layout = RuntimeLayout(root: directory)
        self.uidBlocks = try UIDBlockRegistry(directory: uidBlocks ?? UIDBlockRegistry.defaultDirectory)
        self.logger = logger
        self.supervisor = supervisor ?? Self.findSupervisor()
        // A child that stops reading must fail our write, not kill the control plane.
        signal(SIGPIPE, SIG_IGN)
        guard let runc = ["/usr/sbin/runc", "/usr/bin/runc"].first(where: FileManager.default.isExecutableFile) else {
            throw RuntimeError.missing("runc is not installed (apt-get install runc)")
        }
        self.runc = runc
        guard FileManager.default.isExecutableFile(atPath: Self.tini) else {
            throw RuntimeError.missing("tini is not installed (apt-get install tini)")
        }
        // runc mounts the root filesystem from inside the server's user namespace, whose root
        // is an unprivileged host uid: the path must be traversable (0711), never listable.
        for directory in [layout.root.path, layout.templatesDirectory.path, layout.serversDirectory.path] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try FileManager.default.setAttributes([.posixPermissions: 0o711], ofItemAtPath: directory)
        }
        try FileManager.default.createDirectory(atPath: layout.runcRoot, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(atPath: layout.mountRoot, withIntermediateDirectories: true)
        for directory in ["/run/s4a", layout.mountRoot] {
            try FileManager.default.setAttributes([.posixPermissions: 0o711], ofItemAtPath: directory)
        }
        try BaseTemplate.ensure(at: layout.templateRootfs(BaseTemplate.name))
    }

    /// Statically linked, so it runs from the host's /usr inside any template.
    static let tini = "/usr/bin/tini-static"

    public func templates() async throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.templatesDirectory.path)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: layout.templateRootfs($0) + "/.s4a-template") }.sorted()
    }

    // MARK: Disk

    public func prepare(_ spec: ContainerSpec) async throws {
        try Self.checkID(spec.id)
        let directory = layout.serverDirectory(spec.id).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o711])
        // After the directory: a claim whose server directory is missing counts as stale.
        let spec = try withHostUIDBlock(spec, fresh: true)
        let image = layout.diskImage(spec.id)
        // Sparse: the host pays only for what the server writes, up to disk_mb.
        guard FileManager.default.createFile(atPath: image, contents: nil, attributes: [.posixPermissions: 0o600]),
              truncate(image, off_t(spec.diskMB) << 20) == 0 else {
            throw RuntimeError.failed("cannot create the disk image")
        }
        let owner = "\(spec.hostUIDBase):\(spec.hostUIDBase)"
        // No reserved blocks: the server gets all of disk_mb.
        try await ChildProcess.check(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "root_owner=\(owner)", image])
        try await mountDisk(spec.id, fresh: true)
        do {
            // The writable layer starts with the directories the server owns, owned by its root
            // (one shell, not a process per step: this is on the path to a server's first command).
            let disk = layout.diskMount(spec.id)
            let template = layout.templateRootfs(spec.template)
            let owned = BaseTemplate.ownedDirectories.map { "\(disk)/upper/\($0)" }
            // A standalone template's whole /etc is the server's (apt, dpkg); base's /etc/ssl and
            // /etc/alternatives (hundreds of links) stay read-only below: only its files are copied.
            let standalone = DebianTemplate.isStandalone(template) ? "full" : "files"
            let script = #"""
                set -e
                disk="$1"; template="$2"; owner="$3"; etc="$4"; shift 4
                mkdir -p "$disk/upper" "$disk/work" "$@"
                if [ "$etc" = full ]; then
                  cp -a --no-preserve=ownership "$template/etc/." "$disk/upper/etc/"
                else
                  find "$template/etc" -maxdepth 1 -type f -exec cp -p --no-preserve=ownership -t "$disk/upper/etc/" {} +
                fi
                chown -R -h "$owner" "$disk/upper" "$disk/work"
                chmod 0755 "$disk/upper"; chmod 0700 "$disk/upper/root"
                """#
            try await ChildProcess.check(["/bin/sh", "-c", script, "seed", disk, template, owner, standalone] + owned)
            try seedEgressDisk(spec)
        } catch {
            try? await unmountDisk(spec.id)
            throw error
        }
        // Left mounted: `start` comes next and uses it as it is.
    }

    /// Attaches the image to a loop device of its own (reusing one still attached to it) and
    /// mounts that. Explicit devices, not `mount -o loop`, so detaching never races a remount.
    /// `fresh`: the image was just made, so no device can hold it yet (one `losetup` fewer).
    func mountDisk(_ id: String, fresh: Bool = false) async throws {
        let mountpoint = layout.diskMount(id)
        try FileManager.default.createDirectory(atPath: mountpoint, withIntermediateDirectories: true)
        guard !Mounts.isMounted(mountpoint) else { return }
        let image = layout.diskImage(id)
        var reuse = !fresh
        var failure: (any Error)?
        // A device found still attached may be one whose detach (after the last stop) is under
        // way, and then it reads no superblock: detach it and take a fresh one.
        for attempt in 0..<3 {
            let device: String
            if reuse, let attached = await LoopDevices.attached().first(where: { $0.1 == image })?.0 {
                device = attached
            } else {
                device = try await ChildProcess.check(["losetup", "--find", "--show", image]).stdoutText
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            }
            reuse = false
            do {
                try await ChildProcess.check(["mount", "-o", "nosuid,nodev", device, mountpoint])
                return
            } catch {
                failure = error
                _ = try? await ChildProcess.run(["losetup", "-d", device])
                try await Task.sleep(for: .milliseconds(100 * (attempt + 1)))
            }
        }
        throw failure ?? RuntimeError.failed("the disk could not be mounted")
    }

    func unmountDisk(_ id: String) async throws {
        try await unmount(layout.diskMount(id))
        let image = layout.diskImage(id)
        var attached = await LoopDevices.attached().filter { $0.1 == image }
        for (device, _) in attached { _ = try await ChildProcess.run(["losetup", "-d", device]) }
        // A device whose filesystem a lazy unmount still holds detaches once it is released:
        // waited for briefly (bounded), so that a destroyed server leaves no device behind.
        for _ in 0..<20 where !attached.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            attached = await LoopDevices.attached().filter { $0.1 == image }
        }
    }

    func unmount(_ path: String) async throws {
        guard Mounts.isMounted(path) else { return }
        if try await ChildProcess.run(["umount", path]).exitCode != 0 {
            // Busy (a process still holds it): detach now, the kernel finishes when it is free.
            try await ChildProcess.check(["umount", "-l", path])
        }
    }

    // MARK: Lifecycle

    public func start(_ spec: ContainerSpec) async throws {
        try Self.checkID(spec.id)
        // One `runc state` on this path (it leads to a server's first command), not two.
        switch try await status(spec.id) {
        case .running?: return
        case nil: break
        case _?: try await deleteContainer(spec.id)
        }
        try await mountDisk(spec.id)
        let spec = try withHostUIDBlock(spec, fresh: false)
        let rootfs = layout.rootfs(spec.id)
        try FileManager.default.createDirectory(atPath: rootfs, withIntermediateDirectories: true)
        if !Mounts.isMounted(rootfs) {
            guard FileManager.default.fileExists(atPath: layout.templateRootfs(spec.template)) else {
                throw RuntimeError.failed("unknown template \(spec.template)")
            }
            // Paths relative to the server's directory: the kernel shows them as given in the
            // server's /proc/self/mountinfo, which so names no host directory.
            let options = "lowerdir=\(layout.templateRootfsFromServer(spec.template)),upperdir=disk/upper,workdir=disk/work"
            try await ChildProcess.check(["/bin/sh", "-c", #"cd "$1" && exec mount -t overlay overlay -o "$2" "$3""#, "overlay",
                                          layout.serverDirectory(spec.id).path, options, rootfs])
        }
        let bundle = layout.bundle(spec.id)
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let standalone = DebianTemplate.isStandalone(layout.templateRootfs(spec.template))
        try encoder.encode(ServerBundle.spec(for: spec, rootfs: rootfs, standalone: standalone))
            .write(to: URL(fileURLWithPath: bundle + "/config.json"))
        // Detached: runc returns once tini runs. tini keeps runc's stdio, so that is a log file,
        // never a pipe of ours (which would stay open as long as the server runs).
        let log = layout.initLog(spec.id)
        try? FileManager.default.removeItem(atPath: log)
        // --no-new-keyring: a session keyring per process counts against the kernel's key quota
        // of the server's host uid (200 keys by default), which capped how many processes a
        // server could start well below its own limits. Servers cannot use keyrings anyway
        // (seccomp refuses keyctl, add_key and request_key; /proc/keys is masked).
        let output = try await ChildProcess.run([runc, "--root", layout.runcRoot, "run", "--detach", "--no-new-keyring",
                                                 "--bundle", bundle, "--pid-file", bundle + "/init.pid", spec.id], logFile: log)
        guard output.exitCode == 0 else {
            try? await stop(spec.id)
            let reason = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw RuntimeError.failed("runc run: \(reason.suffix(500).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        do {
            try await startWatchdog(spec.id)
        } catch {
            try? await stop(spec.id)
            throw error
        }
        try await startEgress(spec)
    }

    public func stop(_ id: String) async throws {
        try Self.checkID(id)
        await stopEgress(id)
        // The watchdog first, so that a stop is not mistaken for an expired lease.
        stopWatchdog(id)
        try await removeContainer(id)
        await endSupervisors(id)
        for file in [layout.leaseFile(id), layout.leaseExpiredFile(id)] { try? FileManager.default.removeItem(atPath: file) }
        try await unmount(layout.rootfs(id))
        try await unmountDisk(id)
        try? FileManager.default.removeItem(atPath: layout.rootfs(id))
    }

    public func destroy(_ id: String) async throws {
        try Self.checkID(id)
        try await stop(id)
        let directory = layout.serverDirectory(id)
        if FileManager.default.fileExists(atPath: directory.path) { try FileManager.default.removeItem(at: directory) }
        // A claim left behind is stale (its directory is gone) and will be taken over.
        try? uidBlocks.release(uidBlockOwner(id))
    }

    /// Kills every process and deletes the container (and so its cgroups).
    func removeContainer(_ id: String) async throws {
        guard try await status(id) != nil else { return }
        try await deleteContainer(id)
    }

    private func deleteContainer(_ id: String) async throws {
        _ = try await ChildProcess.run([runc, "--root", layout.runcRoot, "kill", "--all", id, "KILL"])
        try await ChildProcess.check([runc, "--root", layout.runcRoot, "delete", "--force", id])
    }

    public func kill(_ id: String, signal: Int32) async throws {
        try Self.checkID(id)
        try await ChildProcess.check([runc, "--root", layout.runcRoot, "kill", "--all", id, String(signal)])
    }

    public func stats(_ id: String) async throws -> ContainerStats? {
        try Self.checkID(id)
        guard let state = RuncStateFile(runcRoot: layout.runcRoot, id: id),
              case .status(.running) = ContainerState.read(state, runcRoot: layout.runcRoot, id: id) else { return nil }
        return ContainerUsage.read(state, diskMount: layout.diskMount(id))
    }

    public func status(_ id: String) async throws -> ContainerStatus? {
        try Self.checkID(id)
        if case .status(let status) = ContainerState.read(runcRoot: layout.runcRoot, id: id) { return status }
        let output = try await ChildProcess.run([runc, "--root", layout.runcRoot, "state", id])
        guard output.exitCode == 0,
              let object = try? JSONSerialization.jsonObject(with: Data(output.stdout)) as? [String: Any],
              let status = object["status"] as? String else { return nil }
        switch status {
        case "running": return .running
        case "paused": return .paused
        default: return .stopped
        }
    }

    public func list() async throws -> [String] {
        let output = try await ChildProcess.check([runc, "--root", layout.runcRoot, "list", "--format", "json"])
        guard let items = try? JSONSerialization.jsonObject(with: Data(output.stdout)) as? [[String: Any]] else { return [] }
        return items.compactMap { $0["id"] as? String }
    }

    // MARK: Exec

    public func exec(_ id: String, _ request: ExecRequest) async throws -> ExecResult {
        try Self.checkID(id)
        guard try await status(id) == .running else { throw RuntimeError.notRunning }
        let process = ServerBundle.process(args: request.argv, env: request.env, cwd: request.cwd, hostname: id)
        let encoder = JSONEncoder()
        // The process spec (environment included) reaches runc through a pipe, never a file.
        let spec = try [UInt8](encoder.encode(process))
        let pidFile = layout.bundle(id) + "/exec-\(UUID().uuidString).pid"
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let cgroup = RunCgroup(runcRoot: layout.runcRoot, id: id)
        defer { cgroup?.remove() }
        // The whole tree of the command, as the host sees it, then the command itself.
        @Sendable func killCommand() -> Bool {
            guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
                  let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return false }
            ProcessTable.killTree(pid, server: id)
            return true
        }
        let bundle = layout.bundle(id)
        let oomKillsBefore = RuncStateFile(runcRoot: layout.runcRoot, id: id).flatMap(Self.oomKills)
        // At a timeout, what the command was listening on (a server run as a command) is noted
        // before it is killed: the answer can then say to deploy it instead.
        let listening = Locked<[Int]>([])
        let output = try await withTaskCancellationHandler {
            try await ChildProcess.run(
                [runc, "--root", layout.runcRoot, "exec", "--process", "/proc/self/fd/3", "--pid-file", pidFile]
                    + (cgroup.map { ["--cgroup", $0.argument] } ?? []) + [id],
                stdin: request.stdin, fd3: spec, outputLimit: request.outputLimit, timeout: request.timeout,
                onOutput: request.onOutput, onTimeout: { _ in
                    if let cgroup { listening.set(ListeningSockets.ports(of: cgroup.processIDs)) }
                    _ = killCommand()
                })
        } onCancel: {
            // Cancelled (its caller's authority ended, or the caller left): the command goes too,
            // once runc has said its pid (for at most two seconds).
            DispatchQueue.global().async {
                for _ in 0..<100 {
                    if killCommand() || !FileManager.default.fileExists(atPath: bundle) { return }
                    usleep(20_000)
                }
            }
        }
        let oomKillsAfter = RuncStateFile(runcRoot: layout.runcRoot, id: id).flatMap(Self.oomKills)
        return ExecResult(exitCode: output.exitCode, stdout: output.stdout, stderr: output.stderr,
                          truncated: output.truncated, timedOut: output.timedOut, cpuNanoseconds: cgroup?.cpuNanoseconds,
                          outOfMemory: output.exitCode == 137 && (oomKillsAfter ?? 0) > (oomKillsBefore ?? 0),
                          listeningPorts: listening.value)
    }

    // MARK: Orphans

    public func removeOrphans(keeping keep: Set<String>) async throws -> [String] {
        var removed: [String] = []
        for id in try await list() where !keep.contains(id) && RuntimeLayout.isValidID(id) {
            try await removeContainer(id)
            removed.append("container \(id)")
        }
        // Mounts of servers that are not running any more (or not at all).
        let running = Set(try await list())
        for mountpoint in layout.mounts {
            guard let id = layout.serverID(ofMount: mountpoint), !running.contains(id) || !keep.contains(id) else { continue }
            try await unmount(mountpoint)
            removed.append("mount \(mountpoint)")
        }
        // Disks of servers that no longer exist.
        let directories = (try? FileManager.default.contentsOfDirectory(atPath: layout.serversDirectory.path)) ?? []
        for id in directories where !keep.contains(id) && RuntimeLayout.isValidID(id) {
            try await destroy(id)
            removed.append("disk \(id)")
        }
        // Loop devices still attached to images under this runtime but mounted nowhere.
        for (device, file) in await LoopDevices.attached() where file.hasPrefix(layout.serversDirectory.path) {
            if !Mounts.sources().contains(device) {
                _ = try await ChildProcess.run(["losetup", "-d", device])
                removed.append("loop \(device)")
            }
        }
        // Mount points left empty by servers that are gone.
        for id in (try? FileManager.default.contentsOfDirectory(atPath: layout.mountRoot)) ?? [] where !keep.contains(id) {
            try? FileManager.default.removeItem(atPath: layout.mountRoot + "/" + id)
        }
        if keep.isEmpty { try? FileManager.default.removeItem(atPath: layout.mountRoot) }
        removed += await reconcileEgress(keeping: keep)
        return removed
    }

    static func checkID(_ id: String) throws {
        guard RuntimeLayout.isValidID(id) else { throw RuntimeError.failed("invalid container id") }
    }
}

public enum RuntimeError: Error, CustomStringConvertible, Equatable {
    case missing(String)
    case failed(String)
    case notRunning

    public var description: String {
        switch self {
        case .missing(let detail), .failed(let detail): detail
        case .notRunning: "the server is not running"
        }
    }
}

/// The host's mount table.
enum Mounts {
    static func entries() -> [(source: String, mountpoint: String)] {
        // procfs files report size 0: read to the end rather than trusting a size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/mountinfo"),
              let data = try? handle.readToEnd() else { return [] }
        try? handle.close()
        let text = String(decoding: data, as: UTF8.self)
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 9, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count else { return nil }
            return (String(fields[dash + 2]), unescape(String(fields[4])))
        }
    }

    static func isMounted(_ path: String) -> Bool { entries().contains { $0.mountpoint == path } }
    static func all(under directory: String) -> [String] { entries().map(\.mountpoint).filter { $0.hasPrefix(directory + "/") } }
    static func sources() -> Set<String> { Set(entries().map(\.source)) }

    /// mountinfo escapes space, tab, newline and backslash as octal.
    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\040", with: " ").replacingOccurrences(of: "\\011", with: "\t")
            .replacingOccurrences(of: "\\012", with: "\n").replacingOccurrences(of: "\\134", with: "\\")
    }
}

enum LoopDevices {
    /// (device, backing file) of every attached loop device.
    static func attached() async -> [(String, String)] {
        guard let output = try? await ChildProcess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"]),
              output.exitCode == 0 else { return [] }
        return output.stdoutText.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard parts.count == 2 else { return nil }
            return (String(parts[0]), String(parts[1]).trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " (deleted)", with: ""))
        }
    }
}
