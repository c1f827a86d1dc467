import Foundation
import Logging
import S4ADomain

/// Where the master key comes from: `S4A_MASTER_KEY` (base64), else `--master-key-file`, else
/// `<data-dir>/master.key`, which the first start generates (mode 0600; the database never
/// holds it). Losing it loses every secret: the start says to back it up.
public enum MasterKeyFile {
    /// The configured key, which must exist (for operator tools; never generated here).
    public static func loadExisting(_ options: ServeOptions) throws -> MasterKey {
        if let text = options.masterKeyBase64 { return try MasterKey(base64: text) }
        let path = options.masterKeyFile ?? options.defaultMasterKeyPath
        guard let data = FileManager.default.contents(atPath: path) else { throw OptionError("No master key at \(path).") }
        return try MasterKey(base64: String(decoding: data, as: UTF8.self))
    }

    static func load(_ options: ServeOptions, logger: Logger) throws -> MasterKey {
        if let text = options.masterKeyBase64 { return try MasterKey(base64: text) }
        let path = options.masterKeyFile ?? options.defaultMasterKeyPath
        if let data = FileManager.default.contents(atPath: path) {
            if let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 {
                logger.warning("the master key file is readable by others; chmod 600 it", metadata: ["path": "\(path)"])
            }
            return try MasterKey(base64: String(decoding: data, as: UTF8.self))
        }
        guard options.masterKeyFile == nil else { throw OptionError("No master key at \(path).") }
        let key = MasterKey.generate()
        try create(key, at: path)
        logger.warning("generated a master key; back it up: without it no secret can be opened",
                       metadata: ["path": "\(path)", "fingerprint": "\(key.fingerprint)"])
        return key
    }

    /// Writes a new key file, 0600 from its first byte; never over an existing one.
    public static func create(_ key: MasterKey, at path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw OptionError("Cannot create the master key file \(path) (\(String(cString: strerror(errno)))).") }
        defer { close(fd) }
        let bytes = Array((key.base64 + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw OptionError("Cannot write the master key file \(path).")
        }
    }
}
