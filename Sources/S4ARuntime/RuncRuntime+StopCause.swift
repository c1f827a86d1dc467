import Foundation
import S4ADomain

extension RuncRuntime {
    /// Why a container stopped without being asked to, told from runc's state file, /proc and the
    /// server's memory cgroup (which outlives its processes until the container is deleted).
    public func stopCause(_ id: String) async -> String? {
        guard (try? Self.checkID(id)) != nil else { return nil }
        switch ContainerState.read(runcRoot: layout.runcRoot, id: id) {
        case .status(.running?), .status(.paused?), .unknown:
            return nil
        case .status(nil):
            return "its container vanished"
        case .status(.stopped?):
            let state = RuncStateFile(runcRoot: layout.runcRoot, id: id)
            if let kills = state.flatMap(Self.oomKills), kills > 0 { return "it ran out of memory (its init process was killed)" }
            return "its init process ended (it was killed or exited)"
        }
    }

    /// The kernel's count of out-of-memory kills in the server's memory cgroup (v1's
    /// `memory.oom_control` or v2's `memory.events`; both say `oom_kill N`).
    static func oomKills(_ state: RuncStateFile) -> UInt64? {
        let file = state.cgroup("memory").map { $0 + "/memory.oom_control" } ?? state.cgroup("").map { $0 + "/memory.events" }
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return CgroupKeyValues.value("oom_kill", in: text)
    }
}

/// Reads `key value` lines of a cgroup file (bounded: a cgroup file is small, a value that does
/// not parse counts as absent).
enum CgroupKeyValues {
    static func value(_ key: String, in text: String) -> UInt64? {
        for line in text.prefix(64 * 1024).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0] == key { return UInt64(parts[1].trimmingCharacters(in: .whitespaces)) }
        }
        return nil
    }
}
