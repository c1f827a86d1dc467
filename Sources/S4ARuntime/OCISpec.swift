/// The subset of the OCI runtime spec (1.0.2) this platform writes. Field names are the spec's.
struct OCISpec: Codable, Equatable {
    var ociVersion = "1.0.2"
    var process: Process
    var root: Root
    var hostname: String
    var mounts: [Mount]
    var linux: Linux

    struct Process: Codable, Equatable {
        var terminal = false
        /// The terminal's size from its first moment (runc ≥ 1.1), before any resize.
        var consoleSize: ConsoleSize?
        var user = User(uid: 0, gid: 0)
        var args: [String]
        var env: [String]
        var cwd: String
        var capabilities: Capabilities
        var noNewPrivileges = true
        var rlimits: [Rlimit]
    }

    struct ConsoleSize: Codable, Equatable {
        var height: Int
        var width: Int
    }

    struct User: Codable, Equatable {
        var uid: Int
        var gid: Int
    }

    struct Capabilities: Codable, Equatable {
        var bounding: [String]
        var effective: [String]
        var permitted: [String]
        var inheritable: [String]
        var ambient: [String]

        /// Docker's default set less NET_RAW (raw sockets), MKNOD and AUDIT_WRITE.
        static let server: Capabilities = {
            let names = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
                         "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP"]
            return Capabilities(bounding: names, effective: names, permitted: names, inheritable: [], ambient: [])
        }()
    }

    struct Rlimit: Codable, Equatable {
        var type: String
        var hard: UInt64
        var soft: UInt64
    }

    struct Root: Codable, Equatable {
        var path: String
        var readonly: Bool
    }

    struct Mount: Codable, Equatable {
        var destination: String
        var type: String
        var source: String
        var options: [String]
    }

    struct Linux: Codable, Equatable {
        var uidMappings: [IDMapping]
        var gidMappings: [IDMapping]
        var namespaces: [Namespace]
        var cgroupsPath: String
        var resources: Resources
        var maskedPaths: [String]
        var readonlyPaths: [String]
        var seccomp: Seccomp
    }

    struct IDMapping: Codable, Equatable {
        var containerID: Int
        var hostID: Int
        var size: Int
    }

    struct Namespace: Codable, Equatable {
        var type: String
    }

    struct Resources: Codable, Equatable {
        var memory: Memory
        var cpu: CPU
        var pids: Pids
        var devices: [DeviceRule]
    }

    struct Memory: Codable, Equatable {
        var limit: Int64
        /// Memory plus swap: equal to `limit`, so no swap beyond it.
        var swap: Int64
    }

    struct CPU: Codable, Equatable {
        var quota: Int64
        var period: UInt64
    }

    struct Pids: Codable, Equatable {
        var limit: Int64
    }

    struct DeviceRule: Codable, Equatable {
        var allow: Bool
        var access: String
    }

    struct Seccomp: Codable, Equatable {
        var defaultAction: String
        /// The errno of `defaultAction` SCMP_ACT_ERRNO (EPERM when absent).
        var defaultErrnoRet: UInt?
        var architectures: [String]
        var syscalls: [SyscallRule]
    }

    struct SyscallRule: Codable, Equatable {
        var names: [String]
        var action: String
        var errnoRet: UInt?
        var args: [SyscallArg]?
    }

    struct SyscallArg: Codable, Equatable {
        var index: UInt
        var value: UInt64
        var valueTwo: UInt64?
        var op: String
    }
}
