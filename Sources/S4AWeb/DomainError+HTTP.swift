import HTTPTypes
import Hummingbird
import S4ADomain

extension DomainError.Kind {
    /// The HTTP status this kind answers with, in the API's problems and on the dashboard's pages alike.
    public var httpStatus: Int {
        switch self {
        case .invalidRequest: 400
        case .unauthenticated, .invalidCredentials: 401
        case .forbidden, .insufficientScope: 403
        case .notFound: 404
        case .gone: 410
        case .conflict, .slugTaken, .idempotencyInProgress, .serverNotRunning, .confirmationRequired: 409
        case .unprocessable: 422
        case .runtimeFailed: 503
        case .appNotAnswering: 502
        case .payloadTooLarge: 413
        case .idempotencyMismatch: 422
        case .throttled: 429
        case .upgradeRequired: 426
        }
    }
}

/// A `DomainError` thrown past every middleware still answers as the API's problem+json
/// (Hummingbird renders an `HTTPResponseError` itself), with its status and headers.
extension DomainError: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: kind.httpStatus) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        ProblemResponse(self).response
    }
}
