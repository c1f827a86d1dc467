/// The seccomp filter of every server process: allow by default, and refuse with EPERM each
/// call Docker's default profile refuses (kernel modules, keyrings, mounts, namespaces, tracing
/// other processes, clock and swap changes, BPF, perf, userfaultfd, io_uring…).
enum SeccompProfile {
    static let denied: [String] = [
        "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
        "finit_module", "get_kernel_syms", "get_mempolicy", "init_module", "ioperm", "iopl", "kcmp",
        "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount", "mount_setattr",
        "move_mount", "move_pages", "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree",
        "fsconfig", "fsmount", "fsopen", "fspick", "perf_event_open", "pivot_root", "process_vm_readv",
        "process_vm_writev", "ptrace", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key",
        "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "sysfs", "_sysctl", "umount",
        "umount2", "unshare", "uselib", "userfaultfd", "ustat", "vm86", "vm86old", "io_uring_setup",
        "io_uring_enter", "io_uring_register", "syslog",
    ]

    /// CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME.
    static let namespaceFlags: [UInt64] = [0x0002_0000, 0x0200_0000, 0x0400_0000, 0x0800_0000, 0x1000_0000,
                                           0x2000_0000, 0x4000_0000, 0x0000_0080]

    static var spec: OCISpec.Seccomp {
        let eperm: UInt = 1
        let enosys: UInt = 38
        return OCISpec.Seccomp(
            defaultAction: "SCMP_ACT_ALLOW",
            architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
            syscalls: [
                .init(names: Array(Set(denied)).sorted(), action: "SCMP_ACT_ERRNO", errnoRet: eperm, args: nil),
            ] + namespaceFlags.map { flag in
                // New namespaces are refused (one rule per flag: (flags & flag) == flag);
                // plain forks and threads pass.
                .init(names: ["clone"], action: "SCMP_ACT_ERRNO", errnoRet: eperm,
                      args: [.init(index: 0, value: flag, valueTwo: flag, op: "SCMP_CMP_MASKED_EQ")])
            } + [
                // clone3 hides its flags in memory; ENOSYS makes libc fall back to clone.
                .init(names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: enosys, args: nil),
            ])
    }
}

