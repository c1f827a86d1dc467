import Crypto
import Foundation

/// What a valid preview grant opens: one project, for the account that minted it.
public struct PreviewGrant: Sendable, Equatable {
    public var projectID: String
    public var accountID: String
    public var slug: String
    public var expiresAt: Date
}

/// Lets the people of an account open their private project's URL. A signed-in session asks
/// the API host, which mints a short-lived grant for that one project; the project's own host
/// takes it once from the query, keeps it in a host-only cookie and checks it on every request
/// (signature, expiry, the slug of the host, and that the project is still that account's). The
/// ingress strips the cookie before the app sees it. Anyone without a grant gets the same 404
/// as for a name nobody took.
///
/// A grant is `v1.<project>.<account>.<slug>.<expiry ms>.<HMAC>` under a key derived from the
/// master key, so every replica checks what any replica minted, and nothing is stored.
public struct PreviewGrants: Sendable {
    let key: SymmetricKey
    let env: DomainEnvironment
    public static let lifetime: TimeInterval = 30 * 60
    /// The cookie on the project's host, and the paths the ingress keeps for itself there.
    public static let cookieName = "__Host-s4a_preview"
    public static let acceptPath = "/.s4a/preview"
    public static let startPath = "/.s4a/open"

    public init(master: MasterKey, env: DomainEnvironment) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: master.key, info: Data("s4a preview grant v1".utf8), outputByteCount: 32)
        self.env = env
    }

    /// For a signed-in person of the project's account: the URL on the project's host that
    /// takes the grant. Anyone else: not found (as for a project that does not exist).
    public func mint(_ principal: Principal, slug: String) async throws -> URL {
        try principal.check(.session)
        let now = env.now()
        let project = try await env.store.write { tx -> Project in
            guard Slug.problem(with: slug) == nil, let project = try await tx.projects.project(slug: slug),
                  project.accountID == principal.accountID else { throw DomainError.notFound }
            try await tx.lockAccount(id: project.accountID)
            try await tx.activity.append(
                ActivityRecord(action: Action.projectPreviewGranted, actor: principal.actor,
                               target: Target(type: "project", id: project.id), projectID: project.id,
                               metadata: ["minutes": "\(Int(Self.lifetime / 60))"]),
                accountID: project.accountID, at: now)
            return project
        }
        let grant = PreviewGrant(projectID: project.id, accountID: project.accountID, slug: project.slug,
                                 expiresAt: now.addingTimeInterval(Self.lifetime))
        let base = env.settings.projectURL(project.slug)
        guard let url = URL(string: base + Self.acceptPath + "?grant=" + token(grant)) else { throw DomainError.notFound }
        return url
    }

    func token(_ grant: PreviewGrant) -> String {
        let body = "v1.\(grant.projectID).\(grant.accountID).\(grant.slug).\(Int64(grant.expiresAt.timeIntervalSince1970 * 1000))"
        return body + "." + mac(body)
    }

    /// The grant a token carries, if it is genuine, unexpired and for the host's `slug`. Checks
    /// only the token: whether the project is still the account's is the ingress's lookup.
    public func check(_ token: String, slug: String) -> PreviewGrant? {
        guard token.utf8.count <= 300 else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6, parts[0] == "v1", parts[3] == slug, let millis = Int64(parts[4]) else { return nil }
        let body = parts[0..<5].joined(separator: ".")
        guard let given = AuditKeys.bytes(hex: parts[5]), given.count == SHA256.byteCount,
              HMAC<SHA256>.isValidAuthenticationCode(given, authenticating: Data(body.utf8), using: key) else { return nil }
        let expiresAt = Date(timeIntervalSince1970: Double(millis) / 1000)
        guard env.now() < expiresAt else { return nil }
        return PreviewGrant(projectID: parts[1], accountID: parts[2], slug: slug, expiresAt: expiresAt)
    }

    private func mac(_ body: String) -> String {
        Array(HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: key)).hex
    }
}
