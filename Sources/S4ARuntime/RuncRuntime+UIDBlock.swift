import Foundation
import S4ADomain

extension RuntimeLayout {
    /// The first host uid of the server's block, as the runtime claimed it (decimal).
    func uidBaseFile(_ id: String) -> String { serverDirectory(id).appendingPathComponent("uid-base").path }
}

extension RuncRuntime {
    func uidBlockOwner(_ id: String) -> UIDBlockRegistry.Owner {
        .init(root: layout.root.standardizedFileURL.path, server: id)
    }

    /// `spec` with the host uid block the server holds on this host. At `prepare` (`fresh`) one
    /// is claimed: the database's proposal when no other server on the host has it, else another
    /// free one. Afterwards the block recorded in the server's directory is the truth, since the
    /// files on its disk are owned by it.
    func withHostUIDBlock(_ spec: ContainerSpec, fresh: Bool) throws -> ContainerSpec {
        var spec = spec
        if let recorded = recordedUIDBase(spec.id) {
            spec.hostUIDBase = recorded
            return spec
        }
        if fresh {
            spec.hostUIDBase = try uidBlocks.claim(proposed: spec.hostUIDBase, for: uidBlockOwner(spec.id))
        } else if try !uidBlocks.claim(exactly: spec.hostUIDBase, for: uidBlockOwner(spec.id)) {
            // Prepared before blocks were registered, and its files are owned by this block:
            // moving would take a chown of the whole disk. Recreating the server separates them.
            logger.warning("server \(spec.id) shares host uid block \(spec.hostUIDBase) with a server of another runtime")
        }
        guard AtomicFile.write(Data(String(spec.hostUIDBase).utf8), to: layout.uidBaseFile(spec.id)) else {
            throw RuntimeError.failed("cannot record the server's uid block")
        }
        return spec
    }

    /// The block recorded for the server, if it has one.
    func recordedUIDBase(_ id: String) -> Int? {
        guard let data = FileManager.default.contents(atPath: layout.uidBaseFile(id)), data.count <= 16,
              let base = Int(String(decoding: data, as: UTF8.self)), UIDBlockRegistry.slot(of: base) != nil else { return nil }
        return base
    }
}
