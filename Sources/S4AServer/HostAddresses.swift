import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every address of the host's own interfaces (IPv4 and IPv6, as 4 or 16 bytes): a public
/// address of the host is still the host, and outbound connections the control plane makes on
/// a tenant's behalf must not reach it.
enum HostAddresses {
    static func current() -> Set<[UInt8]> {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(first) }
        var found: Set<[UInt8]> = []
        var next: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = next {
            next = entry.pointee.ifa_next
            guard let address = entry.pointee.ifa_addr else { continue }
            switch Int32(address.pointee.sa_family) {
            case AF_INET:
                var ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                found.insert(withUnsafeBytes(of: &ip) { Array($0) })
            case AF_INET6:
                var ip = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                found.insert(withUnsafeBytes(of: &ip) { Array($0) })
            default: continue
            }
        }
        return found
    }
}
