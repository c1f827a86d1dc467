import Foundation

/// What `s4a login` remembers, in `~/.config/s4a/config.json` (mode 0600: it holds a token).
struct CLIConfig: Codable {
    var apiURL: String
    var token: String?
    var caCert: String?

    enum CodingKeys: String, CodingKey {
        case apiURL = "api_url", token, caCert = "ca_cert"
    }

    static var path: URL {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CONFIG_HOME"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory()).appendingPathComponent(".config")
        return base.appendingPathComponent("s4a/config.json")
    }

    static func load() -> CLIConfig? {
        guard let data = try? Data(contentsOf: path) else { return nil }
        return try? JSONDecoder().decode(CLIConfig.self, from: data)
    }

    func save() throws {
        let directory = Self.path.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Created 0600 before the token is written, never readable by others.
        FileManager.default.createFile(atPath: Self.path.path, contents: nil, attributes: [.posixPermissions: 0o600])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: Self.path.path)
        try encoder.encode(self).write(to: Self.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: Self.path.path)
    }

    static func remove() throws {
        if FileManager.default.fileExists(atPath: path.path) { try FileManager.default.removeItem(at: path) }
    }
}
