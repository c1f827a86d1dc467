import Crypto
import Foundation

/// Log drains: a project's server logs and activity, streamed to an HTTPS endpoint. The
/// signing secret is shown once and stored sealed under the project's data key, so the store
/// alone cannot sign (the master key never enters it).
public struct LogDrainService: Sendable {
    let env: DomainEnvironment
    /// Opens the project's data key (the master key and the project's shred key).
    let secrets: SecretService

    /// Drains per project: each holds a buffer and a connection in the delivery service.
    public static let maxPerProject = 5

    /// Checks an endpoint's address when a drain is created (nil: not checked here).
    let transport: (any DrainTransport)?

    public init(env: DomainEnvironment, secrets: SecretService, transport: (any DrainTransport)? = nil) {
        self.env = env
        self.secrets = secrets
        self.transport = transport
    }

    /// The new drain and its secret (in this answer only).
    public func create(_ principal: Principal, projectID: String, url: String,
                       kinds: Set<DrainKind>?) async throws -> (drain: LogDrain, secret: String) {
        try principal.check(.scope(.projectsWrite))
        try Self.check(url: url)
        let kinds = kinds ?? Set(DrainKind.allCases)
        guard !kinds.isEmpty else { throw DomainError.invalid("kinds", "must name logs, activity or both") }
        // Where it points is looked at only for a project the caller may reach (nothing about
        // anyone else's is told), and before anything is written.
        _ = try await env.store.read { tx in try await tx.reachableProject(projectID, by: principal) }
        if let why = await transport?.refusal(for: url) { throw DomainError.unprocessable("url", why) }
        let secret = RandomToken.bearer(prefix: "s4a_whsec_")
        let id = RandomToken.id(.logDrain)
        let now = env.now()
        let secrets = self.secrets
        let drain = try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            _ = try await tx.reachableProject(projectID, by: principal)
            guard try await tx.logDrains.logDrains(projectID: projectID).count < Self.maxPerProject else {
                throw DomainError(.conflict, "A project has at most \(Self.maxPerProject) log drains; delete one first.")
            }
            let key = try await secrets.dataKey(tx, projectID: projectID, create: true, at: now)!
            let event = try await tx.activity.append(
                ActivityRecord(action: Action.logDrainCreated, actor: principal.actor,
                               target: Target(type: "log_drain", id: id), projectID: projectID,
                               metadata: ["host": Self.host(url), "kinds": kinds.sorted().map(\.rawValue).joined(separator: ",")]),
                accountID: principal.accountID, at: now)
            // Delivery starts with this very event and the log lines written from now on.
            let drain = LogDrain(id: id, accountID: principal.accountID, projectID: projectID, url: url, kinds: kinds,
                                 sealedSecret: try Envelope.sealDrainSecret(secret, key: key, projectID: projectID, drainID: id),
                                 createdAt: now, progress: DrainProgress(activitySeq: event.seq - 1, logsAfter: now))
            try await tx.logDrains.insert(drain)
            return drain
        }
        return (drain, secret)
    }

    public func list(_ principal: Principal, projectID: String) async throws -> [LogDrain] {
        try principal.check(.scope(.projectsRead))
        return try await env.store.read { tx in
            _ = try await tx.reachableProject(projectID, by: principal)
            return try await tx.logDrains.logDrains(projectID: projectID)
        }
    }

    /// Stops delivery: the delivery service drops the drain (and what it buffered) within a second.
    public func delete(_ principal: Principal, projectID: String, id: String) async throws {
        try principal.check(.scope(.projectsWrite))
        let now = env.now()
        try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            _ = try await tx.reachableProject(projectID, by: principal)
            guard let drain = try await tx.logDrains.logDrain(id: id, projectID: projectID) else {
                throw DomainError(.notFound, "No such log drain.")
            }
            try await tx.logDrains.deleteLogDrain(id: drain.id)
            try await tx.activity.append(
                ActivityRecord(action: Action.logDrainDeleted, actor: principal.actor,
                               target: Target(type: "log_drain", id: drain.id), projectID: projectID,
                               metadata: ["host": Self.host(drain.url)]),
                accountID: principal.accountID, at: now)
        }
    }

    /// The drain's signing secret, for the delivery service.
    public func secret(of drain: LogDrain) async throws -> String {
        let secrets = self.secrets
        return try await env.store.read { tx in
            guard let key = try await secrets.dataKey(tx, projectID: drain.projectID, create: false,
                                                  at: Date()) else {
                throw DomainError(.runtimeFailed, "The project's data key is missing.")
            }
            return try Envelope.openDrainSecret(drain.sealedSecret, key: key, projectID: drain.projectID, drainID: drain.id)
        }
    }

    /// The endpoint's host only: a URL may carry a token in its path or query, and the
    /// activity log (and its exports) hold names, never credentials.
    static func host(_ url: String) -> String { URLComponents(string: url)?.host ?? "" }

    /// `https://host[:port]/path`, nothing else: batches carry logs, and plain HTTP would show
    /// them (and the signature) to the network.
    static func check(url text: String) throws {
        guard text.count <= 2000, let url = URLComponents(string: text), url.scheme?.lowercased() == "https",
              let host = url.host, !host.isEmpty else {
            throw DomainError.invalid("url", "must be an https:// URL")
        }
        guard url.user == nil, url.password == nil else {
            throw DomainError.invalid("url", "must not hold credentials; check the signature instead")
        }
        guard url.fragment == nil else { throw DomainError.invalid("url", "must not have a fragment") }
    }
}

extension Envelope {
    static func sealDrainSecret(_ secret: String, key: SymmetricKey, projectID: String, drainID: String) throws -> Data {
        try seal(Data(secret.utf8), key: key, context: "drain|\(projectID)|\(drainID)")
    }

    static func openDrainSecret(_ sealed: Data, key: SymmetricKey, projectID: String, drainID: String) throws -> String {
        String(decoding: try open(sealed, key: key, context: "drain|\(projectID)|\(drainID)"), as: UTF8.self)
    }
}
