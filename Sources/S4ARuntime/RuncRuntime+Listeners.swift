import Foundation
import S4ADomain
#if canImport(Glibc)
import Glibc
#endif

extension RuncRuntime {
    /// Read from the host, without running anything in the server: the LISTEN sockets of the
    /// server's network namespace (its init's `/proc/<pid>/net/tcp{,6}`), matched to the
    /// supervised processes whose cgroups (`proc-<name>`) hold them.
    public func listeners(_ id: String) async -> [PortListener] {
        guard RuntimeLayout.isValidID(id), let state = RuncStateFile(runcRoot: layout.runcRoot, id: id),
              case .status(.running?) = ContainerState.read(state, runcRoot: layout.runcRoot, id: id) else { return [] }
        let listening = ListeningSockets.listening(inNamespaceOf: state.initPID)
        guard !listening.isEmpty else { return [] }
        // Which supervised process each socket belongs to: its run cgroup, then its fds.
        var owner: [UInt64: String] = [:]
        let accounting = state.cgroup("cpuacct") ?? state.cgroup("")
        let groups = accounting.map { root in
            ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix("proc-") }.prefix(512)
                .map { (root + "/" + $0, String($0.dropFirst(5))) }
        } ?? []
        for (directory, name) in groups where RuntimeLayout.isValidProcessName(name) {
            let pids = ((try? String(contentsOfFile: directory + "/cgroup.procs", encoding: .utf8)) ?? "")
                .split(separator: "\n").prefix(512).compactMap { pid_t($0) }
            for inode in ListeningSockets.socketInodes(of: pids) { owner[inode] = name }
        }
        var seen: Set<Int> = []
        return listening.compactMap { port, inode in
            guard seen.insert(port).inserted else { return nil }
            return PortListener(port: port, process: owner[inode])
        }.sorted { $0.port < $1.port }
    }
}
