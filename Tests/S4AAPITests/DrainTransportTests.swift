@testable import S4AAPI
import Testing

/// A drain's endpoint is resolved once per request and the connection goes to the address that
/// was checked (no second lookup a rebinding name could answer differently).
@Suite struct DrainTransportTests {
    @Test func privateAddressesAreRefusedUnlessAllowedAndTheCheckedAddressIsTheOneUsed() async {
        let strict = HTTPSDrainTransport(extraRootsPEMFile: nil, allowPrivateNetworks: false)
        let open = HTTPSDrainTransport(extraRootsPEMFile: nil, allowPrivateNetworks: true)
        defer { Task { await strict.shutdown(); await open.shutdown() } }
        for url in ["https://127.0.0.1/in", "https://localhost:9/in", "https://[::1]/in", "https://10.1.2.3/in"] {
            guard case .refused(let why) = await strict.check(url) else { Issue.record("\(url) was allowed"); continue }
            #expect(why.contains("--drain-allow-private"))
        }
        #expect(await open.check("https://localhost:9/in") == .allowed(host: "localhost", address: "127.0.0.1"))
        #expect(await open.check("https://[::1]:9/in") == .allowed(host: "::1", address: "::1"))
        #expect(await open.check("https:///in") == .refused("the endpoint's URL has no host"))
    }

    @Test func aHostsClientIsPinnedUntilItsAddressChanges() async {
        let transport = HTTPSDrainTransport(extraRootsPEMFile: nil, allowPrivateNetworks: true)
        let first = transport.client(for: "drain.example", at: "192.0.2.1")
        #expect(transport.client(for: "drain.example", at: "192.0.2.1") === first)
        let moved = transport.client(for: "drain.example", at: "192.0.2.2")
        #expect(moved !== first)
        await transport.shutdown()
    }

    @Test func addressesAreWrittenAsTheClientTakesThem() {
        #expect(HTTPSDrainTransport.text([127, 0, 0, 1]) == "127.0.0.1")
        #expect(HTTPSDrainTransport.text([UInt8](repeating: 0, count: 15) + [1]) == "::1")
    }
}
