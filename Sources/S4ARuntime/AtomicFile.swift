import Foundation

/// Small files that other processes read while they change (records, leases, pids): written
/// whole under a temporary name, mode 0600, and renamed into place, so a reader never sees half.
enum AtomicFile {
    @discardableResult
    static func write(_ data: Data, to path: String) -> Bool {
        let temporary = path + ".tmp"
        return FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
            && rename(temporary, path) == 0
    }
}
