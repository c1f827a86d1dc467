import Foundation

/// Where the runtime keeps things, under `<data-dir>/runtime/`:
/// `templates/<name>/rootfs`, `servers/<id>/{disk.img,disk/,rootfs/,bundle/}` and runc's state.
struct RuntimeLayout: Sendable {
    let root: URL

    var runcRoot: String { root.appendingPathComponent("runc").path }
    var templatesDirectory: URL { root.appendingPathComponent("templates") }
    var serversDirectory: URL { root.appendingPathComponent("servers") }

    func templateRootfs(_ name: String) -> String { templatesDirectory.appendingPathComponent(name).appendingPathComponent("rootfs").path }
    func serverDirectory(_ id: String) -> URL { serversDirectory.appendingPathComponent(id) }
    /// `templateRootfs(name)` relative to any server's directory.
    func templateRootfsFromServer(_ name: String) -> String { "../../templates/\(name)/rootfs" }
    func diskImage(_ id: String) -> String { serverDirectory(id).appendingPathComponent("disk.img").path }
    func diskMount(_ id: String) -> String { serverDirectory(id).appendingPathComponent("disk").path }
    /// Where each server's root is mounted: under /run, whose every ancestor the server's
    /// unprivileged root can traverse (runc mounts it from inside the user namespace), and apart
    /// per runtime directory so several control planes on one host never meet.
    var mountRoot: String { "/run/s4a/" + String(Self.fingerprint(root.standardizedFileURL.path)) }
    func rootfs(_ id: String) -> String { mountRoot + "/" + id }

    /// The server a mount of this runtime belongs to.
    func serverID(ofMount mountpoint: String) -> String? {
        if mountpoint.hasPrefix(mountRoot + "/") { return URL(fileURLWithPath: mountpoint).lastPathComponent }
        if mountpoint.hasPrefix(serversDirectory.path + "/") {
            return URL(fileURLWithPath: mountpoint).deletingLastPathComponent().lastPathComponent
        }
        return nil
    }

    /// Every mount this runtime made that is still there, deepest first.
    var mounts: [String] {
        (Mounts.all(under: mountRoot) + Mounts.all(under: serversDirectory.path)).sorted { $0.count > $1.count }
    }

    /// FNV-1a, hex: a short stable name for a path.
    static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
    func bundle(_ id: String) -> String { serverDirectory(id).appendingPathComponent("bundle").path }
    func initLog(_ id: String) -> String { serverDirectory(id).appendingPathComponent("init.log").path }
    /// The lease's deadline (ms since the epoch), written by the control plane, read by the watchdog.
    func leaseFile(_ id: String) -> String { serverDirectory(id).appendingPathComponent("lease").path }
    /// Written by the watchdog when it stopped the server at its deadline.
    func watchdogPIDFile(_ id: String) -> String { serverDirectory(id).appendingPathComponent("watchdog.pid").path }
    func leaseExpiredFile(_ id: String) -> String { serverDirectory(id).appendingPathComponent("lease-expired").path }
    /// Supervised processes: `<name>.json` (the supervisor's record) and `<name>.log` (its own errors).
    func processesDirectory(_ id: String) -> String { serverDirectory(id).appendingPathComponent("processes").path }
    /// What supervised processes printed: `<name>.jsonl`, rotated to `<name>.1.jsonl`.
    func logsDirectory(_ id: String) -> String { serverDirectory(id).appendingPathComponent("logs").path }

    /// Process names are run ids: checked before they become file names.
    static func isValidProcessName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// Container ids are server ids; anything else is refused before it reaches a path or runc.
    static func isValidID(_ id: String) -> Bool {
        id.hasPrefix("srv_") && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
