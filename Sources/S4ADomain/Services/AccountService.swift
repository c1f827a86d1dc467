import Foundation

/// Sign-up, sign-in with throttling, sign-out and password changes.
public struct AccountService: Sendable {
    let env: DomainEnvironment
    /// Compared against when the email is unknown, so both failures cost one bcrypt.
    let decoyHash: String

    public init(env: DomainEnvironment) async {
        self.env = env
        self.decoyHash = await env.hasher.hash(RandomToken.bearer(prefix: "decoy_"))
    }

    /// Creates an account unless the email has one. The caller learns nothing either way.
    public func signUp(email rawEmail: String, password: String) async throws {
        guard env.settings.signupOpen else { throw DomainError(.forbidden, "Sign-up is closed on this platform.") }
        let email = Email.normalize(rawEmail)
        guard Email.isPlausible(email) else { throw DomainError.invalid("email", "is not an email address") }
        try PasswordPolicy.check(password)
        let hash = await env.hasher.hash(password)
        let now = env.now()
        do {
            try await env.store.write { tx in
                guard try await tx.accounts.account(email: email) == nil else { return }
                let account = Account(id: RandomToken.id(.account), email: email, passwordHash: hash, createdAt: now)
                try await tx.accounts.insert(account)
                try await tx.activity.append(
                    ActivityRecord(action: Action.accountCreated, actor: Actor(type: .account, id: account.id),
                                   target: Target(type: "account", id: account.id)),
                    accountID: account.id, at: now)
            }
        } catch is UniqueViolation {
            // A concurrent sign-up for the same email won; the answer stays the same.
        }
    }

    public struct SignIn: Sendable {
        public var token: String
        public var session: Session
    }

    /// Answers identically for an unknown email and a wrong password; throttles both.
    public func signIn(email rawEmail: String, password: String, clientAddress: String?) async throws -> SignIn {
        let email = Email.normalize(rawEmail)
        let now = env.now()
        let keys = throttleKeys(email: email, clientAddress: clientAddress)
        let attempt = try await reserveAttempt(keys: keys, now: now, refusal: "Too many failed sign-ins; try again later.")
        let account = try await env.store.read { tx in try await tx.accounts.account(email: email) }
        let valid = await env.hasher.verify(password, hash: account?.passwordHash ?? decoyHash)
        // A wrong password leaves its reserved slot as the failure.
        guard valid, let account else { throw DomainError.invalidCredentials }
        let token = RandomToken.bearer(prefix: Self.sessionTokenPrefix)
        let session = Session(id: RandomToken.id(.session), accountID: account.id, tokenHash: RandomToken.hash(token),
                              createdAt: now, expiresAt: now.addingTimeInterval(env.settings.sessionLifetime))
        try await env.store.write { tx in
            try await tx.lockAccount(id: account.id)
            try await tx.accounts.insert(session)
            // Only its own slot: the window's failures stand until they age out, so a right
            // password among a burst of wrong ones opens no fresh guesses for the rest.
            try await tx.accounts.forgetLoginAttempt(id: attempt)
            try await tx.activity.append(
                ActivityRecord(action: Action.sessionCreated, actor: Actor(type: .account, id: account.id),
                               target: Target(type: "session", id: session.id)),
                accountID: account.id, at: now)
        }
        return SignIn(token: token, session: session)
    }

    public func signOut(_ principal: Principal) async throws {
        guard case .session(let session) = principal.credential else {
            throw DomainError(.forbidden, "Only a session can sign out.")
        }
        try await env.store.write { tx in
            try await tx.lockAccount(id: principal.accountID)
            try await tx.accounts.deleteSession(id: session.id)
            try await tx.activity.append(
                ActivityRecord(action: Action.sessionDeleted, actor: principal.actor,
                               target: Target(type: "session", id: session.id)),
                accountID: principal.accountID, at: env.now())
        }
    }

    /// Changes the password and ends every other session of the account.
    public func changePassword(_ principal: Principal, current: String, new: String) async throws {
        guard case .session(let session) = principal.credential else {
            throw DomainError(.forbidden, "Only a signed-in person can change the password.")
        }
        try PasswordPolicy.check(new, field: "new_password")
        // Throttled like export and deletion: a stolen session must not try passwords at will.
        let account = try await recheckPassword(principal, current)
        let hash = await env.hasher.hash(new)
        try await env.store.write { tx in
            try await tx.lockAccount(id: account.id)
            try await tx.accounts.updatePasswordHash(accountID: account.id, hash: hash)
            try await tx.accounts.deleteSessions(accountID: account.id, except: session.id)
            try await tx.activity.append(
                ActivityRecord(action: Action.accountPasswordChanged, actor: principal.actor,
                               target: Target(type: "account", id: account.id)),
                accountID: account.id, at: env.now())
        }
    }

    /// A signed-in person proves it again before an export or a deletion. A wrong password
    /// answers 403 as it does when changing the password, and counts towards a throttle (five
    /// failures per account in the sign-in window, then 429) so a stolen session cannot guess it.
    public func recheckPassword(_ principal: Principal, _ password: String) async throws -> Account {
        guard case .session = principal.credential else {
            throw DomainError(.forbidden, "Only a signed-in person can do this, never an API key.")
        }
        let now = env.now()
        let key = Self.reauthKey(accountID: principal.accountID)
        let attempt = try await reserveAttempt(keys: [key], now: now, refusal: "Too many wrong passwords; try again later.")
        guard let account = try await env.store.read({ tx in try await tx.accounts.account(id: principal.accountID) }) else {
            throw DomainError.unauthenticated
        }
        guard await env.hasher.verify(password, hash: account.passwordHash) else {
            throw DomainError(.forbidden, "The password is incorrect.")
        }
        try await env.store.write { tx in try await tx.accounts.forgetLoginAttempt(id: attempt) }
        return account
    }

    /// Takes one of the window's password checks for `keys` before the (slow) check runs: under
    /// the throttle's lock, refused with the wait when any key has used them all, else recorded
    /// as a failure in advance (a right password forgets it). So however many attempts arrive
    /// at once, at most the allowed number are ever evaluated. Returns the attempt's id.
    func reserveAttempt(keys: [String], now: Date, refusal: String) async throws -> String {
        let window = env.settings.loginWindow, limit = env.settings.maxLoginFailures
        let since = now.addingTimeInterval(-window)
        let attempt = RandomToken.id(.attempt)
        let wait = try await env.store.write { tx -> Int? in
            for key in keys.sorted() { try await tx.accounts.lockThrottle(key: key) }
            var wait: Int?
            for key in keys {
                let (count, oldest) = try await tx.accounts.loginFailures(key: key, since: since)
                if count >= limit, let oldest {
                    // Stored times are whole milliseconds; clamp so rounding never exceeds the window.
                    let seconds = Int(oldest.addingTimeInterval(window).timeIntervalSince(now).rounded(.up))
                    wait = max(wait ?? 1, min(max(seconds, 1), Int(window)))
                }
            }
            guard wait == nil else { return wait }
            for key in keys { try await tx.accounts.recordLoginFailure(key: key, attemptID: attempt, at: now, forgetBefore: since) }
            return nil
        }
        if let wait { throw DomainError(.throttled, refusal, retryAfter: wait) }
        return attempt
    }

    public func account(_ principal: Principal) async throws -> Account {
        guard let account = try await env.store.read({ tx in try await tx.accounts.account(id: principal.accountID) }) else {
            throw DomainError.unauthenticated
        }
        return account
    }

    public static let sessionTokenPrefix = "s4s_"

    /// The email's key, then the client address's.
    func throttleKeys(email: String, clientAddress: String?) -> [String] {
        [Self.throttleKey(email: email)] + (clientAddress.map { ["addr:" + $0] } ?? [])
    }

    public static func throttleKey(email: String) -> String { "email:" + RandomToken.hash(email) }
    /// Failed password re-checks of a signed-in person (export, deletion), throttled as sign-ins are.
    public static func reauthKey(accountID: String) -> String { "reauth:" + RandomToken.hash(accountID) }
}
