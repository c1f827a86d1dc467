import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing

/// Host uid blocks belong to the host: no two servers on it share one, whichever runtime (and
/// database) made them.
@Suite struct UIDBlockRegistryTests {
    /// A registry and a runtime root with server directories for `servers`, removed afterwards.
    static func withRegistry<T>(servers: [String], _ body: (UIDBlockRegistry, URL) async throws -> T) async throws -> T {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-uid-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: base) }
        let root = base.appendingPathComponent("runtime")
        for id in servers {
            try FileManager.default.createDirectory(at: RuntimeLayout(root: root).serverDirectory(id), withIntermediateDirectories: true)
        }
        return try await body(try UIDBlockRegistry(directory: base.appendingPathComponent("uid-blocks")), root)
    }

    static func block(_ slot: Int) -> Int { ServerLimits.uidRangeStart + slot * ServerLimits.uidRangeSize }

    @Test func concurrentClaimsNeverHandOutOneBlockTwice() async throws {
        let ids = (0..<48).map { "srv_c\($0)" }
        try await Self.withRegistry(servers: ids) { registry, root in
            let blocks = try await withThrowingTaskGroup(of: Int.self) { group in
                for id in ids {
                    group.addTask {
                        // A registry value per task, as separate runtimes have: only the lock on disk is shared.
                        let mine = try UIDBlockRegistry(directory: registry.directory)
                        return try mine.claim(proposed: Self.block(7), for: .init(root: root.path, server: id))
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(Set(blocks).count == ids.count, "\(blocks.sorted())")
            #expect(blocks.contains(Self.block(7)))
            #expect(try registry.claims().count == ids.count)
        }
    }

    @Test func aStaleClaimIsTakenOverAndALiveOneIsNot() async throws {
        try await Self.withRegistry(servers: ["srv_live", "srv_new"]) { registry, root in
            let gone = UIDBlockRegistry.Owner(root: root.path, server: "srv_gone")  // no server directory
            let live = UIDBlockRegistry.Owner(root: root.path, server: "srv_live")
            let new = UIDBlockRegistry.Owner(root: root.path, server: "srv_new")
            try FileManager.default.createDirectory(at: RuntimeLayout(root: root).serverDirectory("srv_gone"),
                                                    withIntermediateDirectories: true)
            #expect(try registry.claim(proposed: Self.block(3), for: gone) == Self.block(3))
            #expect(try registry.claim(proposed: Self.block(4), for: live) == Self.block(4))
            // While its server exists, the claim holds.
            #expect(try registry.claim(proposed: Self.block(3), for: new) == Self.block(5))
            try registry.release(new)
            try FileManager.default.removeItem(at: RuntimeLayout(root: root).serverDirectory("srv_gone"))
            #expect(try registry.claim(proposed: Self.block(3), for: new) == Self.block(3))
            #expect(try registry.claim(proposed: Self.block(4), for: gone) == Self.block(5))
            // An owner asking again gets what it holds; an empty claim (a writer that died) is free.
            #expect(try registry.claim(proposed: Self.block(9), for: live) == Self.block(4))
            _ = FileManager.default.createFile(atPath: registry.directory.appendingPathComponent(String(Self.block(6))).path, contents: nil)
            try registry.release(live)
            #expect(try registry.claim(proposed: Self.block(6), for: live) == Self.block(6))
            #expect(try registry.claims()[Self.block(6)] == .some(live))
        }
    }

    @Test func proposalsOutsideTheServersRangeAreRefused() async throws {
        try await Self.withRegistry(servers: ["srv_a"]) { registry, root in
            let owner = UIDBlockRegistry.Owner(root: root.path, server: "srv_a")
            for base in [0, 1000, ServerLimits.uidRangeStart + 1, Self.block(ServerLimits.maxSlots), -Self.block(1)] {
                #expect(throws: RuntimeError.self) { try registry.claim(proposed: base, for: owner) }
            }
            let claims = try registry.claims()
            #expect(claims.isEmpty)
        }
    }
}

/// Two runtimes (two data directories, so two databases) on one host.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct UIDBlockRuntimeTests {
    @Test func twoRuntimesOnOneHostNeverShareAUIDBlock() async throws {
        let registry = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-uid-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: registry) }
        try await RuntimeFixture.run(uidBlocks: registry) { one in
            try await RuntimeFixture.run(uidBlocks: registry) { two in
                let a = one.spec()
                var b = two.spec()
                b.hostUIDBase = a.hostUIDBase  // both databases propose the same block
                try await one.withServer(a) { a in
                    try await two.withServer(b) { b in
                        let baseA = try #require(one.runtime.recordedUIDBase(a.id))
                        let baseB = try #require(two.runtime.recordedUIDBase(b.id))
                        #expect(baseA == a.hostUIDBase)
                        #expect(baseB != baseA)
                        // B's processes and B's files are its block's, on the host and inside.
                        for (fixture, spec, base) in [(one, a, baseA), (two, b, baseB)] {
                            let map = try await fixture.sh(spec.id, "cat /proc/self/uid_map").out.split(whereSeparator: \.isWhitespace)
                            #expect(map.count == 3 && Int(map[1]) == base)
                            #expect(try await fixture.sh(spec.id, "touch /root/mine && stat -c %u /root /root/mine").out == "0\n0\n")
                            let owner = try FileManager.default.attributesOfItem(atPath: fixture.runtime.layout.diskMount(spec.id) + "/upper/root")[.ownerAccountID] as? Int
                            #expect(owner == base)
                        }
                        // A restart keeps the block it was given.
                        try await two.runtime.stop(b.id)
                        try await two.runtime.start(b)
                        let map = try await two.sh(b.id, "cat /proc/self/uid_map").out.split(whereSeparator: \.isWhitespace)
                        #expect(map.count == 3 && Int(map[1]) == baseB)
                    }
                }
                // Destroyed, A's block is free again: the next server proposing it gets it.
                #expect(try UIDBlockRegistry(directory: registry).claims().isEmpty)
                var c = two.spec()
                c.hostUIDBase = a.hostUIDBase
                try await two.runtime.prepare(c)
                #expect(two.runtime.recordedUIDBase(c.id) == a.hostUIDBase)
                try await two.runtime.destroy(c.id)
            }
        }
    }
}
