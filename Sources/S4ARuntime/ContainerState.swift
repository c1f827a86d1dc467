import Foundation
import S4ADomain

/// A container's status read as `runc state` reads it, from runc's own state file and /proc,
/// without starting a process: the check sits in front of every exec, shell and start, where
/// a `runc state` (about 8 ms here) was a large share of the time to a first command.
enum ContainerState {
    enum Reading: Equatable {
        case status(ContainerStatus?)
        /// The state file says something this reader does not know: ask runc.
        case unknown
    }

    static func read(runcRoot: String, id: String) -> Reading {
        guard FileManager.default.fileExists(atPath: runcRoot + "/" + id + "/state.json") else {
            return FileManager.default.fileExists(atPath: runcRoot + "/" + id) ? .unknown : .status(nil)
        }
        guard let state = RuncStateFile(runcRoot: runcRoot, id: id) else { return .unknown }
        return read(state, runcRoot: runcRoot, id: id)
    }

    /// The status `state` (already read) says, checked against /proc.
    static func read(_ state: RuncStateFile, runcRoot: String, id: String) -> Reading {
        let pid = state.initPID
        guard let start = state.initStart else { return .unknown }
        // Created but not started (runc run is between its steps): runc's answer is "created".
        if FileManager.default.fileExists(atPath: runcRoot + "/" + id + "/exec.fifo") { return .unknown }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return .status(.stopped) }
        // After the command's name: state (field 3) … starttime (field 22).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let started = UInt64(fields[19]) else { return .unknown }
        if started != start || fields[0] == "Z" || fields[0] == "X" { return .status(.stopped) }
        if let freezer = state.cgroupPaths["freezer"],
           let frozen = try? String(contentsOfFile: freezer + "/freezer.state", encoding: .utf8),
           frozen.trimmingCharacters(in: .whitespacesAndNewlines) != "THAWED" {
            return .status(.paused)
        }
        return .status(.running)
    }
}
