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
        let path = runcRoot + "/" + id + "/state.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            return FileManager.default.fileExists(atPath: runcRoot + "/" + id) ? .unknown : .status(nil)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let pid = (object["init_process_pid"] as? NSNumber)?.int32Value,
              let start = (object["init_process_start"] as? NSNumber)?.uint64Value else { return .unknown }
        // Created but not started (runc run is between its steps): runc's answer is "created".
        if FileManager.default.fileExists(atPath: runcRoot + "/" + id + "/exec.fifo") { return .unknown }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return .status(.stopped) }
        // After the command's name: state (field 3) … starttime (field 22).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let started = UInt64(fields[19]) else { return .unknown }
        if started != start || fields[0] == "Z" || fields[0] == "X" { return .status(.stopped) }
        if let paths = object["cgroup_paths"] as? [String: Any], let freezer = paths["freezer"] as? String,
           let state = try? String(contentsOfFile: freezer + "/freezer.state", encoding: .utf8),
           state.trimmingCharacters(in: .whitespacesAndNewlines) != "THAWED" {
            return .status(.paused)
        }
        return .status(.running)
    }
}
