@testable import S4AServer
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

    /// Every address of the host's own interfaces, documentation and reserved nets: refused at
    /// creation (`refusal`) as at connection, with one wording that says nothing of ports.
    @Test func theHostsOwnAddressesAndReservedNetsAreRefused() async {
        let strict = HTTPSDrainTransport(extraRootsPEMFile: nil, allowPrivateNetworks: false)
        defer { Task { await strict.shutdown() } }
        let own = HostAddresses.current()
        #expect(own.contains([127, 0, 0, 1]))
        for address in own {
            guard let text = HTTPSDrainTransport.text(address) else { continue }
            let host = address.count == 16 ? "[\(text)]" : text
            if text.hasPrefix("fe80") { continue }  // a link-local address needs a zone to be a URL
            let why = await strict.refusal(for: "https://\(host):8443/in")
            #expect(why?.contains("this host") == true, "\(text): \(why ?? "allowed")")
        }
        for url in ["https://192.0.2.7/in", "https://198.51.100.7/in", "https://203.0.113.7/in", "https://[2001:db8::7]/in",
                    "https://100.64.0.1/in", "https://169.254.169.254/in", "https://[fd00::1]/in", "https://224.0.0.1/in",
                    "https://[::ffff:127.0.0.1]/in", "https://[2002:7f00:1::]/in", "https://0.0.0.0/in"] {
            #expect(await strict.refusal(for: url) != nil, "\(url) was allowed")
        }
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
