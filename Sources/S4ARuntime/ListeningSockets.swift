import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Which TCP ports a set of processes listen on, read from /proc: their socket inodes (from
/// `/proc/<pid>/fd`) matched against the LISTEN entries of their network namespace's
/// `/proc/<pid>/net/tcp` and `tcp6`. Every read is bounded and every field checked.
enum ListeningSockets {
    static func ports(of pids: [pid_t]) -> [Int] {
        guard let first = pids.first else { return [] }
        let inodes = socketInodes(of: pids)
        guard !inodes.isEmpty else { return [] }
        return Set(listening(inNamespaceOf: first).filter { inodes.contains($0.1) }.map(\.0)).sorted()
    }

    /// (port, inode) of every LISTEN socket in the network namespace of `pid`, from its
    /// `net/tcp` and `net/tcp6`. Each table is read up to 4 MiB: a server with more sockets
    /// than that cannot make the host read without bound.
    static func listening(inNamespaceOf pid: pid_t) -> [(Int, UInt64)] {
        var found: [(Int, UInt64)] = []
        for table in ["tcp", "tcp6"] {
            guard let file = FileHandle(forReadingAtPath: "/proc/\(pid)/net/\(table)") else { continue }
            defer { try? file.close() }
            guard let data = try? file.read(upToCount: 4 << 20) else { continue }
            found += listening(in: String(decoding: data, as: UTF8.self))
        }
        return found
    }

    /// The inodes of the sockets the processes hold open.
    static func socketInodes(of pids: [pid_t]) -> Set<UInt64> {
        var inodes: Set<UInt64> = []
        for pid in pids.prefix(512) {
            let directory = "/proc/\(pid)/fd"
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).prefix(4096) {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + name),
                      target.hasPrefix("socket:["), target.hasSuffix("]"),
                      let inode = UInt64(target.dropFirst(8).dropLast()) else { continue }
                inodes.insert(inode)
            }
        }
        return inodes
    }

    /// (port, inode) of each LISTEN line of a /proc/net/tcp table.
    static func listening(in table: String) -> [(Int, UInt64)] {
        var found: [(Int, UInt64)] = []
        for line in table.split(separator: "\n").dropFirst() {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 9, fields[3] == "0A",
                  let colon = fields[1].lastIndex(of: ":"),
                  let port = Int(fields[1][fields[1].index(after: colon)...], radix: 16), (1...65535).contains(port),
                  let inode = UInt64(fields[9]) else { continue }
            found.append((port, inode))
        }
        return found
    }
}
