/// An RFC 8555 problem document (RFC 7807): what the ACME server said went wrong.
public struct ACMEProblem: Sendable, Decodable, Equatable, CustomStringConvertible {
    /// e.g. `urn:ietf:params:acme:error:badNonce`, `…:unauthorized`, `…:connection`.
    public var type: String
    public var detail: String?
    public var status: Int?
    public var subproblems: [ACMEProblem]?

    public init(type: String, detail: String? = nil, status: Int? = nil, subproblems: [ACMEProblem]? = nil) {
        self.type = type
        self.detail = detail
        self.status = status
        self.subproblems = subproblems
    }

    public var description: String {
        var text = type + (detail.map { ": \($0)" } ?? "")
        for sub in subproblems ?? [] { text += " [\(sub)]" }
        return text
    }

    static let errorPrefix = "urn:ietf:params:acme:error:"
    var isBadNonce: Bool { type == Self.errorPrefix + "badNonce" }
}

public enum ACMEError: Error, Sendable, CustomStringConvertible {
    /// The directory could not be fetched or read (wrong URL, server down, not an ACME server).
    case directoryUnavailable(url: String, reason: String)
    /// The server answered a request with a problem document.
    case problem(ACMEProblem, request: String)
    /// The server answered with something that is neither what RFC 8555 says nor a problem.
    case unexpectedResponse(request: String, status: UInt, reason: String)
    /// Validation of `domain` failed; `problem` is the challenge's (or authorization's) error.
    case authorizationFailed(domain: String, problem: ACMEProblem?)
    /// The order became invalid; `problem` is the order's error, if it has one.
    case orderFailed(url: String, problem: ACMEProblem?)
    /// The server offered no HTTP-01 challenge for `domain`.
    case noHTTP01Challenge(domain: String)
    /// A status did not settle within the bounded number of polls.
    case timedOut(waitingFor: String)
    case invalidRequest(String)
    case accountKey(path: String, reason: String)
    case invalidCertificateChain(String)

    /// The problem document behind this error, when the server sent one.
    public var problem: ACMEProblem? {
        switch self {
        case .problem(let problem, _): return problem
        case .authorizationFailed(_, let problem), .orderFailed(_, let problem): return problem
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .directoryUnavailable(let url, let reason): return "ACME directory \(url) is unavailable: \(reason)"
        case .problem(let problem, let request): return "ACME \(request) failed: \(problem)"
        case .unexpectedResponse(let request, let status, let reason):
            return "ACME \(request): unexpected response (HTTP \(status)): \(reason)"
        case .authorizationFailed(let domain, let problem):
            return "ACME validation of \(domain) failed" + (problem.map { ": \($0)" } ?? "")
        case .orderFailed(let url, let problem): return "ACME order \(url) failed" + (problem.map { ": \($0)" } ?? "")
        case .noHTTP01Challenge(let domain): return "ACME server offers no http-01 challenge for \(domain)"
        case .timedOut(let what): return "ACME: gave up waiting for \(what)"
        case .invalidRequest(let reason): return "ACME: \(reason)"
        case .accountKey(let path, let reason): return "ACME account key \(path): \(reason)"
        case .invalidCertificateChain(let reason): return "ACME certificate chain: \(reason)"
        }
    }
}
