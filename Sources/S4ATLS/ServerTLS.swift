import NIOSSL

/// The TLS policy of every listener: TLS 1.2 or 1.3 only, forward-secret AEAD suites only.
public enum ServerTLS {
    public static let tls12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// A server configuration from PEM files (the local CA's or the operator's).
    /// With `sni`, a handshake naming one of its names gets that name's certificate instead.
    public static func configuration(certificatePath: String, keyPath: String,
                                     sni: SNICertificates? = nil) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        configuration.cipherSuiteValues = tls12CipherSuites
        configuration.applicationProtocols = ["http/1.1"]
        // A peer that never answers our close_notify held every close (and so every stop) for
        // the default 5 s.
        configuration.shutdownTimeout = .seconds(1)
        if let sni { configuration.sslContextCallback = sni.callback }
        return configuration
    }
}
