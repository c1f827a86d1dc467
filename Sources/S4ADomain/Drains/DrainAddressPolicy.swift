import Foundation

/// Which addresses a log drain may send to: by default only public ones, so a drain cannot
/// make the control plane post to itself, the host's other services, the cloud's metadata
/// endpoint or the operator's private network (nor probe them through its error messages).
/// The host's own public addresses are refused too, by the transport, which knows them.
public enum DrainAddressPolicy {
    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address that is globally routable.
    public static func isPublic(_ address: [UInt8]) -> Bool {
        switch address.count {
        case 4: return isPublicV4(address)
        case 16: return isPublicV6(address)
        default: return false
        }
    }

    static func isPublicV4(_ a: [UInt8]) -> Bool {
        switch (a[0], a[1]) {
        case (0, _), (10, _), (127, _): return false  // "this" network, private, loopback
        case (100, 64...127): return false  // carrier-grade NAT
        case (169, 254): return false  // link-local (cloud metadata)
        case (172, 16...31), (192, 168): return false  // private
        case (192, 0) where a[2] == 0: return false  // IETF protocol assignments
        case (192, 0) where a[2] == 2, (198, 51) where a[2] == 100, (203, 0) where a[2] == 113:
            return false  // documentation (TEST-NET-1, 2 and 3)
        case (192, 88) where a[2] == 99: return false  // 6to4 relay anycast (deprecated)
        case (198, 18...19): return false  // benchmarking
        case (224..., _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }

    static func isPublicV6(_ a: [UInt8]) -> Bool {
        let zeroPrefix = a[0..<10].allSatisfy { $0 == 0 }
        if zeroPrefix, a[10] == 0xff, a[11] == 0xff { return isPublicV4(Array(a[12...])) }  // IPv4-mapped
        if a[0..<12].allSatisfy({ $0 == 0 }) { return false }  // unspecified, loopback, IPv4-compatible
        if a[0] == 0x00, a[1] == 0x64, a[2] == 0xff, a[3] == 0x9b, a[4..<12].allSatisfy({ $0 == 0 }) {
            return isPublicV4(Array(a[12...]))  // NAT64 of an IPv4 address
        }
        if a[0] & 0xfe == 0xfc { return false }  // unique local
        if a[0] == 0xfe, a[1] & 0xc0 == 0x80 { return false }  // link-local
        if a[0] == 0xff { return false }  // multicast
        if a[0] == 0x20, a[1] == 0x01, a[2] == 0x0d, a[3] == 0xb8 { return false }  // documentation
        if a[0] == 0x20, a[1] == 0x02 { return isPublicV4(Array(a[2..<6])) }  // 6to4 of an IPv4 address
        if a[0] == 0x01, a[1..<8].allSatisfy({ $0 == 0 }) { return false }  // discard-only
        return true
    }
}
