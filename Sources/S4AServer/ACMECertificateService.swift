import Foundation
import Logging
import S4AACME
import S4ADomain
import S4ATLS
import ServiceLifecycle

/// Keeps an ACME certificate for the API host and for `<slug>.<apps-domain>` of every public
/// project, and puts each in the HTTPS listener's SNI table.
///
/// It polls the store (every `interval`) rather than hooking the project service, so that a
/// project published through any path or by another replica sharing the store is seen too.
/// Each round: names no longer public leave the SNI table (their URL must look like an unknown
/// slug's, certificate included; the files stay for a later republish); names whose
/// certificate is missing or past two thirds of its lifetime are ordered, one at a time. A
/// failed order is retried with exponential backoff (5 s doubling to an hour) while the
/// listener keeps the local CA's certificate, or the stored one while it is still valid.
struct ACMECertificateService: Service {
    let client: ACMEClient
    let directory: CertificateDirectory
    let sni: SNICertificates
    let ingress: IngressService
    let apiHost: String
    let appsDomain: String
    let interval: Duration
    let logger: Logger
    var now: @Sendable () -> Date = { Date() }

    func run() async throws {
        var held = directory.loadAll()
        var failures: [String: (count: Int, retryAt: ContinuousClock.Instant)] = [:]
        logger.info("ACME certificates loaded", metadata: ["count": "\(held.count)", "directory": "\(directory.directory.path)"])
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                let wanted = try await wantedNames()
                for name in sni.names where !wanted.contains(name) { sni.remove(name: name) }
                for name in wanted {
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                    let current = now()
                    if let stored = held[name] {
                        let installed = sni.names.contains(name)
                        if stored.isValid(at: current), !installed { install(stored) }
                        if !stored.isValid(at: current), installed { sni.remove(name: name) }
                    }
                    if let stored = held[name], !stored.needsRenewal(at: current) { continue }
                    if let failure = failures[name], ContinuousClock.now < failure.retryAt { continue }
                    do {
                        let issued = try await cancelWhenGracefulShutdown { try await client.obtainCertificate(for: [name]) }
                        let stored = try directory.save(issued, name: name)
                        held[name] = stored
                        failures[name] = nil
                        install(stored)
                    } catch where Task.isShuttingDownGracefully || Task.isCancelled {
                        break
                    } catch {
                        let count = (failures[name]?.count ?? 0) + 1
                        let delay = Self.backoff(failures: count)
                        failures[name] = (count, ContinuousClock.now + delay)
                        logger.error("ACME certificate not obtained; serving the default certificate meanwhile",
                                     metadata: ["name": "\(name)", "error": "\(error)", "retry_in": "\(delay)"])
                    }
                }
            } catch {
                logger.error("ACME round failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }

    /// The API host first, then every public project's host, in a stable order.
    func wantedNames() async throws -> [String] {
        var names = [apiHost.lowercased()]
        for slug in try await ingress.publicSlugs() {
            let name = "\(slug).\(appsDomain)".lowercased()
            if !names.contains(name) { names.append(name) }
        }
        return names.filter(Self.isOrderable)
    }

    /// A name a public ACME CA could certify: a storable DNS name with a dot that is not an
    /// IPv4 literal (`localhost` and addresses keep the local CA's certificate).
    static func isOrderable(_ name: String) -> Bool {
        CertificateDirectory.isStorable(name) && name.contains(".") && !name.allSatisfy { $0 == "." || ("0"..."9").contains($0) }
    }

    private func install(_ stored: StoredCertificate) {
        do {
            try sni.install(name: stored.name, chainPEM: stored.chainPEM, keyPEM: stored.keyPEM)
            logger.info("serving ACME certificate", metadata: ["name": "\(stored.name)", "not_after": "\(stored.notAfter)"])
        } catch {
            logger.error("ACME certificate does not load", metadata: ["name": "\(stored.name)", "error": "\(error)"])
        }
    }

    /// 5 s, 10 s, 20 s… at most an hour.
    static func backoff(failures: Int) -> Duration {
        .seconds(min(3600, 5 << min(max(failures - 1, 0), 10)))
    }
}

extension ControlPlane {
    /// The ACME certificate keeper, when `--acme-directory` is set.
    func acmeService() -> ACMECertificateService? {
        guard let acme else { return nil }
        return ACMECertificateService(
            client: acme, directory: CertificateDirectory(directory: options.acmeDirectory), sni: sni,
            ingress: IngressService(env: environment), apiHost: options.apiHost, appsDomain: options.appsDomain,
            interval: .milliseconds(Int64(options.acmePollSeconds * 1000)), logger: logger)
    }
}
