import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The lease is enforced next to the server: past its deadline the watchdog kills the
/// server's processes, with no help from the control plane.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct LeaseWatchdogTests {
    func waitUntilStopped(_ fixture: RuntimeFixture, _ id: String, within seconds: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await fixture.runtime.status(id) != .running { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func aLeaseNobodyRenewsStopsTheServerAtItsDeadline() async throws {
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let watchdogs = RuncRuntime.watchdogs(of: spec.id)
                #expect(watchdogs.count == 1)
                // Not our child: it outlives whoever started it (the control plane).
                if let pid = watchdogs.first, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) {
                    let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
                    #expect(pid_t(fields[1]) != getpid())
                }
                try await fixture.runtime.spawn(spec.id, ProcessRequest(name: "run_burn", argv: ["/bin/sh", "-c", "while :; do :; done"]))
                // Margins of seconds: the suite runs beside others on two loaded cores.
                try await fixture.runtime.setLease(spec.id, deadline: Date().addingTimeInterval(4))
                try await Task.sleep(for: .milliseconds(1000))
                let renewed = Date().addingTimeInterval(4)
                try await fixture.runtime.setLease(spec.id, deadline: renewed)
                try await Task.sleep(for: .milliseconds(1000))
                #expect(try await fixture.runtime.status(spec.id) == .running, "renewed, it runs past the first deadline")
                // Then nobody renews it: it stops at the deadline, never before, and soon after.
                #expect(try await waitUntilStopped(fixture, spec.id, within: 15))
                let stopped = Date()
                let expired = try #require(try await fixture.runtime.leaseExpired(spec.id))
                // Both in whole milliseconds, as the lease file and the watchdog's note hold them.
                #expect((expired.timeIntervalSince1970 * 1000).rounded(.down) >= (renewed.timeIntervalSince1970 * 1000).rounded(.down),
                        "stopped \(renewed.timeIntervalSince(expired)) s before its deadline")
                #expect(stopped.timeIntervalSince(renewed) < 5, "stopped \(stopped.timeIntervalSince(renewed)) s after its deadline")
                // Its work done, the watchdog leaves (once its `runc kill` has returned: the
                // container may read stopped a moment before that).
                for _ in 0..<100 where !RuncRuntime.watchdogs(of: spec.id).isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                #expect(RuncRuntime.watchdogs(of: spec.id).isEmpty)
            }
        }
    }

    @Test func aStopIsNotAnExpiryAndEndsTheWatchdog() async throws {
        try await RuntimeFixture.run { fixture in
            let spec = fixture.spec()
            try await fixture.runtime.prepare(spec)
            try await fixture.runtime.setLease(spec.id, deadline: Date().addingTimeInterval(60))
            try await fixture.runtime.start(spec)
            #expect(RuncRuntime.watchdogs(of: spec.id).count == 1)
            try await fixture.runtime.stop(spec.id)
            #expect(RuncRuntime.watchdogs(of: spec.id).isEmpty)
            #expect(try await fixture.runtime.leaseExpired(spec.id) == nil)
            // A lease left from before never stops the next start: the stop removed it.
            try await fixture.runtime.start(spec)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await fixture.runtime.status(spec.id) == .running)
            try await fixture.runtime.destroy(spec.id)
        }
    }
}
