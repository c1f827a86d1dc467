import Foundation

/// Account exports: a password-checked request makes a one-time link (only its token's hash is
/// stored, with an `account.exported` event in the same transaction); the link's one download
/// builds the archive as it is sent (`ExportService+Archive.swift`).
public struct ExportService: Sendable {
    let env: DomainEnvironment
    let accounts: AccountService
    let runtime: any ContainerRuntime
    /// Where JSON Lines files wait for their size to be known before their tar entry is written.
    let spoolDirectory: String

    public static let linkLifetime: TimeInterval = 15 * 60
    public static let tokenPrefix = "s4x_"

    public init(env: DomainEnvironment, accounts: AccountService, runtime: any ContainerRuntime, spoolDirectory: String) {
        self.env = env
        self.accounts = accounts
        self.runtime = runtime
        self.spoolDirectory = spoolDirectory
    }

    /// The link's token (shown once) and when it expires.
    public func create(_ principal: Principal, password: String, includeFiles: Bool) async throws -> (token: String, expiresAt: Date) {
        let account = try await accounts.recheckPassword(principal, password)
        let now = env.now()
        let token = RandomToken.bearer(prefix: Self.tokenPrefix)
        let link = ExportLink(id: RandomToken.id(.export), accountID: account.id, tokenHash: RandomToken.hash(token),
                              includeFiles: includeFiles, createdAt: now, expiresAt: now.addingTimeInterval(Self.linkLifetime))
        try await env.store.write { tx in
            try await tx.lockAccount(id: account.id)
            try await tx.exports.insert(link)
            try await tx.activity.append(
                ActivityRecord(action: Action.accountExported, actor: principal.actor, target: Target(type: "account", id: account.id),
                               metadata: ["export_id": link.id, "include_files": includeFiles ? "true" : "false"]),
                accountID: account.id, at: now)
        }
        return (token, link.expiresAt)
    }

    /// Takes the link for its one download; a used, expired or unknown one is `gone`, all alike.
    public func claim(token: String) async throws -> ExportLink {
        let now = env.now()
        let hash = RandomToken.hash(token)
        guard token.hasPrefix(Self.tokenPrefix),
              let link = try await env.store.write({ tx in try await tx.exports.claimExport(tokenHash: hash, at: now) }) else {
            throw DomainError(.gone, "This export link was used, has expired or never existed; ask for a new export.")
        }
        return link
    }
}
