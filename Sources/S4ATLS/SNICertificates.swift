import NIOCore
import NIOSSL
import Synchronization

/// Certificates chosen by SNI: a TLS handshake whose server name is exactly one of these
/// names is answered with that name's chain and key; every other handshake (no SNI, an IP
/// address, a name not here) keeps the listener's default certificate (the local CA's or the
/// operator's). The set changes while the listener runs: the next handshake sees it.
public final class SNICertificates: Sendable {
    struct Entry: Sendable {
        var chain: [NIOSSLCertificate]
        var key: NIOSSLPrivateKey
    }

    private let entries = Mutex<[String: Entry]>([:])

    public init() {}

    /// Serves `chain` (leaf first) and `key` for handshakes naming `name` from now on.
    public func install(name: String, chain: [NIOSSLCertificate], key: NIOSSLPrivateKey) {
        precondition(!chain.isEmpty, "an empty certificate chain")
        let name = Self.normalize(name)
        entries.withLock { $0[name] = Entry(chain: chain, key: key) }
    }

    /// Parses PEM text (the chain, leaf first; the key) and installs it for `name`.
    public func install(name: String, chainPEM: String, keyPEM: String) throws {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8))
        guard !chain.isEmpty else { throw SNICertificatesError.noCertificate(name) }
        let key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        install(name: name, chain: chain, key: key)
    }

    /// Back to the default certificate for `name`.
    public func remove(name: String) {
        _ = entries.withLock { $0.removeValue(forKey: Self.normalize(name)) }
    }

    /// The names that have their own certificate.
    public var names: Set<String> { entries.withLock { Set($0.keys) } }

    /// What the handshake for `serverName` (the client's SNI, if any) changes: that name's
    /// chain and key when it has its own, else nothing (the default certificate).
    public func override(serverName: String?) -> NIOSSLContextConfigurationOverride {
        guard let serverName, let entry = entries.withLock({ $0[Self.normalize(serverName)] }) else { return .noChanges }
        var changes = NIOSSLContextConfigurationOverride()
        changes.certificateChain = entry.chain.map { .certificate($0) }
        changes.privateKey = .privateKey(entry.key)
        return changes
    }

    /// The callback for `TLSConfiguration.sslContextCallback`: runs once per ClientHello.
    public var callback: NIOSSLContextCallback {
        { [self] values, promise in promise.succeed(self.override(serverName: values.serverHostname)) }
    }

    /// Lowercased, without a trailing dot: DNS names compare case-insensitively.
    static func normalize(_ name: String) -> String {
        var name = name.lowercased()
        while name.hasSuffix(".") { name.removeLast() }
        return name
    }
}

public enum SNICertificatesError: Error, CustomStringConvertible {
    case noCertificate(String)

    public var description: String {
        switch self {
        case .noCertificate(let name): return "no certificate in the PEM for \(name)"
        }
    }
}
