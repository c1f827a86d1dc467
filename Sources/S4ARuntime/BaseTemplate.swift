import Foundation

/// The built-in `base` template: the host's read-only /usr (sh, coreutils, python3, git…) under
/// a synthesized /etc that holds no host secret: no shadow, no keys, no credentials.
enum BaseTemplate {
    static let name = "base"

    /// Directories the server owns (seeded into its writable layer); the rest stays read-only.
    static let ownedDirectories = ["etc", "root", "home", "srv", "opt", "var", "var/tmp", "var/log", "var/cache",
                                   "var/lib", "workspace"]

    /// Builds the template's root directory if it is missing; idempotent.
    static func ensure(at rootfs: String) throws {
        let fm = FileManager.default
        let marker = rootfs + "/.s4a-template"
        // A template built by an older version (without tini's mount point) is rebuilt.
        if fm.fileExists(atPath: marker), fm.fileExists(atPath: rootfs + "/.s4a/tini") { return }
        try? fm.removeItem(atPath: rootfs)
        for directory in ["usr", "proc", "sys", "dev", "tmp", "run", ".s4a"] + ownedDirectories {
            try fm.createDirectory(atPath: "\(rootfs)/\(directory)", withIntermediateDirectories: true)
        }
        // Debian's merged /usr: these are links into the read-only /usr bind mount.
        for (link, target) in [("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")] {
            try fm.createSymbolicLink(atPath: "\(rootfs)/\(link)", withDestinationPath: target)
        }
        let etc = "\(rootfs)/etc"
        let files: [String: String] = [
            "passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
            "group": "root:x:0:\nnogroup:x:65534:\n",
            "hosts": "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
            "resolv.conf": "",
            "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
            "os-release": "PRETTY_NAME=\"Server4Agent base (Debian userland)\"\nID=s4a-base\nID_LIKE=debian\n",
            "profile": "export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin\n",
        ]
        for (name, content) in files {
            try content.write(toFile: "\(etc)/\(name)", atomically: true, encoding: .utf8)
        }
        // Public material only: the dynamic linker's cache, CA certificates, alternatives links.
        if fm.fileExists(atPath: "/etc/ld.so.cache") { try fm.copyItem(atPath: "/etc/ld.so.cache", toPath: "\(etc)/ld.so.cache") }
        for directory in ["/etc/ssl/certs", "/etc/alternatives"] where fm.fileExists(atPath: directory) {
            let target = etc + directory.dropFirst("/etc".count)
            try fm.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try copyTree(directory, to: target)
        }
        try "".write(toFile: "\(rootfs)/.s4a/tini", atomically: true, encoding: .utf8)  // tini's mount point
        try "base".write(toFile: marker, atomically: true, encoding: .utf8)
    }

    /// Copies a tree keeping symbolic links as links (so nothing outside is followed).
    static func copyTree(_ source: String, to destination: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: destination, withIntermediateDirectories: true)
        for entry in try fm.contentsOfDirectory(atPath: source) {
            let from = "\(source)/\(entry)", to = "\(destination)/\(entry)"
            let attributes = try fm.attributesOfItem(atPath: from)
            switch attributes[.type] as? FileAttributeType {
            case .typeSymbolicLink?:
                try fm.createSymbolicLink(atPath: to, withDestinationPath: fm.destinationOfSymbolicLink(atPath: from))
            case .typeDirectory?:
                try copyTree(from, to: to)
            case .typeRegular?:
                try fm.copyItem(atPath: from, toPath: to)
            default:
                continue
            }
        }
    }
}
