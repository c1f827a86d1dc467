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
    func diskImage(_ id: String) -> String { serverDirectory(id).appendingPathComponent("disk.img").path }
    func diskMount(_ id: String) -> String { serverDirectory(id).appendingPathComponent("disk").path }
    func rootfs(_ id: String) -> String { serverDirectory(id).appendingPathComponent("rootfs").path }
    func bundle(_ id: String) -> String { serverDirectory(id).appendingPathComponent("bundle").path }
    func initLog(_ id: String) -> String { serverDirectory(id).appendingPathComponent("init.log").path }

    /// Container ids are server ids; anything else is refused before it reaches a path or runc.
    static func isValidID(_ id: String) -> Bool {
        id.hasPrefix("srv_") && id.count <= 64 && id.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
