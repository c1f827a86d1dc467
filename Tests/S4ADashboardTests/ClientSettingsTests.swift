import Foundation
@testable import S4ADashboard
import Testing

@Suite struct ClientSettingsTests {
    @Test func theMCPConfigurationIsTheREADMEsShapeAndValidJSON() throws {
        let settings = ClientSettings(apiURL: "https://api.example:8443", caCertificatePath: "/var/lib/s4a/tls/ca \"1\".pem")
        let text = settings.mcpConfiguration(token: "s4a_abc")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let entry = try #require((object["mcpServers"] as? [String: Any])?["server4agent"] as? [String: Any])
        #expect(entry["command"] as? String == "s4a" && entry["args"] as? [String] == ["mcp"])
        #expect(entry["env"] as? [String: String] == ["S4A_API_URL": "https://api.example:8443", "S4A_API_KEY": "s4a_abc",
                                                      "S4A_CA_CERT": "/var/lib/s4a/tls/ca \"1\".pem"])
        // A publicly trusted certificate: no CA to name.
        #expect(!ClientSettings(apiURL: "https://x", caCertificatePath: nil).mcpConfiguration(token: "t").contains("S4A_CA_CERT"))
    }

    @Test func theEnvironmentBlockQuotesWhatAShellWouldSplit() {
        let block = ClientSettings(apiURL: "https://api.example:8443", caCertificatePath: "/tmp/it's here/ca.pem")
            .environmentBlock(token: "s4a_abc")
        #expect(block == """
            export S4A_API_URL=https://api.example:8443
            export S4A_API_KEY=s4a_abc
            export S4A_CA_CERT='/tmp/it'\\''s here/ca.pem'
            """)
    }
}
