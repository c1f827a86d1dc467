import Foundation

/// An error a caller can act on, by kind. The web boundary (`S4AWeb`) gives each kind its HTTP
/// status and turns the error into problem+json with a stable `type`.
public struct DomainError: Error, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case invalidRequest = "invalid-request"
        case unauthenticated
        case invalidCredentials = "invalid-credentials"
        case forbidden
        case insufficientScope = "insufficient-scope"
        case notFound = "not-found"
        /// A one-time link that was used, expired or never existed (all three alike).
        case gone
        case conflict
        case slugTaken = "slug-taken"
        case idempotencyMismatch = "idempotency-key-reused"
        case idempotencyInProgress = "idempotency-key-in-progress"
        case throttled
        case payloadTooLarge = "payload-too-large"
        /// Well-formed but not acceptable: out-of-range sizes, unknown templates.
        case unprocessable
        /// The server is not in a state that allows this (e.g. exec while stopped).
        case serverNotRunning = "server-not-running"
        /// The route speaks another protocol (the shell's WebSocket).
        case upgradeRequired = "upgrade-required"
        /// The isolation runtime failed; the server is marked failed.
        case runtimeFailed = "runtime-failed"
        /// A deployed app did not come to answer on its port (it exited, or listens elsewhere).
        case appNotAnswering = "app-not-answering"
        /// The change has consequences the caller must confirm (e.g. a limit that stops servers).
        case confirmationRequired = "confirmation-required"
    }

    public struct FieldError: Equatable, Sendable {
        public var field: String
        public var message: String
        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    public var kind: Kind
    public var detail: String
    public var fields: [FieldError]
    /// Seconds, for `throttled`.
    public var retryAfter: Int?
    /// What went wrong underneath (a runtime's own words: host paths, pids, its stderr): for the
    /// operator's log, under the id the answer names, never for the client.
    public var operatorDetail: String?
    /// The id that ties the answer to the operator's log line.
    public var errorID: String?

    public init(_ kind: Kind, _ detail: String, fields: [FieldError] = [], retryAfter: Int? = nil) {
        self.kind = kind
        self.detail = detail
        self.fields = fields
        self.retryAfter = retryAfter
    }

    /// A failure underneath (the runtime, a cipher): the client learns `message` and an error id;
    /// the cause goes to the operator's log with that id.
    public static func failure(_ kind: Kind, _ message: String, cause: any Error) -> DomainError {
        let id = RandomToken.id(.failure)
        var error = DomainError(kind, "\(message) (error \(id); the operator's log has the cause)")
        error.errorID = id
        error.operatorDetail = "\(id): \(String(describing: cause).prefix(2000))"
        return error
    }

    public static func unprocessable(_ field: String, _ message: String) -> DomainError {
        DomainError(.unprocessable, "\(field) \(message)", fields: [FieldError(field: field, message: message)])
    }

    public static func invalid(_ field: String, _ message: String) -> DomainError {
        DomainError(.invalidRequest, "\(field) \(message)", fields: [FieldError(field: field, message: message)])
    }

    /// One answer for every resource the caller may not see, so absence and denial look alike.
    public static let notFound = DomainError(.notFound, "No such resource.")
    public static let unauthenticated = DomainError(.unauthenticated, "Valid credentials are required.")
    /// One answer for an unknown email and a wrong password.
    public static let invalidCredentials = DomainError(.invalidCredentials, "The email or password is incorrect.")
}
