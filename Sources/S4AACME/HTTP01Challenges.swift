import Synchronization

/// Answers HTTP-01 challenges: the control plane's plain-HTTP listener serves
/// `GET /.well-known/acme-challenge/<token>` from this. The client publishes a key
/// authorization while its challenge is pending and withdraws it once the authorization
/// has settled, so nothing stays answerable longer than an order needs.
public final class HTTP01Challenges: Sendable {
    private let authorizations = Mutex<[String: String]>([:])

    public init() {}

    /// The key authorization to serve (as `text/plain`, nothing else in the body) for
    /// `token`, or nil when no challenge with that token is pending here.
    public func response(forToken token: String) -> String? {
        authorizations.withLock { $0[token] }
    }

    /// The path prefix HTTP-01 validation requests use (RFC 8555 §8.3).
    public static let pathPrefix = "/.well-known/acme-challenge/"

    func publish(token: String, keyAuthorization: String) {
        authorizations.withLock { $0[token] = keyAuthorization }
    }

    func withdraw(token: String) {
        _ = authorizations.withLock { $0.removeValue(forKey: token) }
    }

    var isEmpty: Bool { authorizations.withLock { $0.isEmpty } }
}
