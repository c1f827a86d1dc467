import Foundation
import S4ADomain
@testable import S4ARuntime
import S4ATestSupport
import Testing

/// The seccomp filter is an allow-list: what it does not name fails inside a server, though the
/// host's kernel answers it.
@Suite(.serialized, .enabled(if: runtimeAvailable), .tags(.runc), .needs(.runc)) struct SeccompTests {
    /// Each call: its name, number (x86_64) and arguments; prints "name result errno".
    static let probe = """
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        calls = [("personality_query", 135, 0xffffffff), ("personality_linux", 135, 0),
                 ("personality_odd", 135, 0x0400000), ("memfd_secret", 447, 0),
                 ("keyctl", 250, 0), ("io_uring_setup", 425, 0)]
        for name, number, argument in calls:
            ctypes.set_errno(0)
            result = libc.syscall(ctypes.c_long(number), ctypes.c_ulong(argument), ctypes.c_ulong(0), ctypes.c_ulong(0))
            print(name, result, ctypes.get_errno())
        """

    static func parse(_ text: String) -> [String: (result: Int, errno: Int32)] {
        var calls: [String: (Int, Int32)] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let result = Int(fields[1]), let code = Int32(fields[2]) else { continue }
            calls[String(fields[0])] = (result, code)
        }
        return calls
    }

    @Test func callsOutsideTheAllowListFailInsideAServer() async throws {
        // On the host every probe reaches the kernel: a refusal inside is the filter's.
        let host = try await ChildProcess.run(["python3", "-c", Self.probe])
        let outside = Self.parse(host.stdoutText)
        #expect(outside.count == 6, "\(host.stdoutText)")
        for (name, call) in outside {
            #expect(call.result >= 0 || (call.errno != EPERM && call.errno != ENOSYS), "\(name) on the host: \(call)")
        }
        try await RuntimeFixture.run { fixture in
            try await fixture.withServer { spec in
                let run = try await fixture.sh(spec.id, "python3 -c '\(Self.probe)'")
                let inside = Self.parse(run.out)
                #expect(inside.count == 6, "\(run.out) \(run.err)")
                // The standard personas pass (0xffffffff only asks which one is set)…
                #expect(inside["personality_query"]?.result == 0)
                #expect(inside["personality_linux"]?.result == 0)
                // …an odd one, and calls Docker's profile does not allow or we keep out, do not.
                #expect(inside["personality_odd"].map { $0.result == -1 && $0.errno == EPERM } == true)
                for name in ["memfd_secret", "keyctl", "io_uring_setup"] {
                    let call = inside[name]
                    #expect(call.map { $0.result == -1 && ($0.errno == EPERM || $0.errno == ENOSYS) } == true, "\(name): \(String(describing: call))")
                }
            }
        }
    }

    @Test func theProfileRefusesByDefault() {
        let profile = SeccompProfile.spec
        #expect(profile.defaultAction == "SCMP_ACT_ERRNO")
        let allowed = Set(profile.syscalls.filter { $0.action == "SCMP_ACT_ALLOW" && $0.args == nil }.flatMap(\.names))
        for call in ["mount", "unshare", "setns", "ptrace", "bpf", "keyctl", "add_key", "io_uring_setup", "memfd_secret",
                     "perf_event_open", "userfaultfd", "init_module", "kexec_load", "reboot", "personality", "clone",
                     "open_by_handle_at", "process_vm_readv", "sethostname", "swapon", "syslog", "clone3"] {
            #expect(!allowed.contains(call), "\(call) is allowed unconditionally")
        }
    }
}
