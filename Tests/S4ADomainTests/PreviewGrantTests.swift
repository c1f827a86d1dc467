import Foundation
@testable import S4ADomain
import Testing

/// A preview grant's token: genuine, unexpired and for the host it is shown to, or nothing.
@Suite struct PreviewGrantTests {
    final class Clock: @unchecked Sendable { var now = Date(timeIntervalSince1970: 2_000_000_000) }

    func grants(_ clock: Clock, key: UInt8 = 7) throws -> PreviewGrants {
        PreviewGrants(master: try MasterKey(bytes: [UInt8](repeating: key, count: 32)),
                      env: DomainEnvironment(store: NoStore(), settings: DomainSettings(), now: { clock.now }, hasher: NoHasher()))
    }

    @Test func onlyAGenuineUnexpiredGrantForThisHostOpensIt() throws {
        let clock = Clock()
        let previews = try grants(clock)
        let grant = PreviewGrant(projectID: "prj_a", accountID: "acc_a", slug: "shop", expiresAt: clock.now + 60)
        let token = previews.token(grant)
        #expect(previews.check(token, slug: "shop") == grant)
        #expect(previews.check(token, slug: "other") == nil)
        // Any change to what it says, or to its MAC, is refused.
        #expect(previews.check(token.replacingOccurrences(of: "prj_a", with: "prj_b"), slug: "shop") == nil)
        #expect(previews.check(token.replacingOccurrences(of: "acc_a", with: "acc_b"), slug: "shop") == nil)
        var altered = token
        altered.removeLast()
        #expect(previews.check(altered + (token.last == "0" ? "1" : "0"), slug: "shop") == nil)
        #expect(previews.check("", slug: "shop") == nil)
        #expect(previews.check(String(repeating: "v1.", count: 200), slug: "shop") == nil)
        // Another master key's grants mean nothing here.
        #expect(try grants(clock, key: 8).check(token, slug: "shop") == nil)
        clock.now += 61
        #expect(previews.check(token, slug: "shop") == nil)
    }
}
