import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime
import S4AContract
import S4ADomain

/// The outermost middleware: turns every error into `application/problem+json` and puts the
/// security headers on every answer.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let problem = ProblemResponse(error)
            if let cause = (ProblemResponse.unwrap(error) as? DomainError)?.operatorDetail {
                context.logger.error("request failed underneath", metadata: ["path": "\(request.uri.path)", "cause": "\(cause)"])
            } else if problem.status >= 500 {
                context.logger.error("request failed", metadata: ["path": "\(request.uri.path)",
                                                                  "error": "\(ProblemResponse.loggable(error))"])
            }
            response = problem.response
        }
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        response.headers[.xContentTypeOptions] = "nosniff"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}

/// An error as RFC 9457 problem details with a stable `type`.
public struct ProblemResponse {
    public var status: Int
    public var kind: String
    public var title: String
    public var detail: String
    public var fields: [DomainError.FieldError] = []
    public var headers: HTTPFields = [:]

    public static func typeURI(_ kind: String) -> String { "urn:s4a:problem:\(kind)" }

    public init(_ error: any Error) {
        let error = Self.unwrap(error)
        switch error {
        case let error as DomainError:
            status = error.kind.httpStatus
            kind = error.kind.rawValue
            detail = error.detail
            fields = error.fields
            if let seconds = error.retryAfter { headers[.retryAfter] = String(seconds) }
            if error.kind == .unauthenticated || error.kind == .invalidCredentials {
                headers[.wwwAuthenticate] = "Bearer"
            }
        case let error as HTTPError:
            status = Int(error.status.code)
            headers = error.headers
            switch error.status.code {
            case 404: kind = "not-found"; detail = "No such resource."
            case 405: kind = "method-not-allowed"; detail = "This path does not take that method."
            case 413: kind = "payload-too-large"; detail = "The request body is over the limit."
            case 415: kind = "unsupported-media-type"; detail = error.body ?? "This operation does not take that media type."
            default: kind = status < 500 ? "invalid-request" : "internal"; detail = error.body ?? error.status.reasonPhrase
            }
        case let error as DecodingError:
            status = 400
            kind = DomainError.Kind.invalidRequest.rawValue
            detail = Self.describe(error)
        default:
            status = 500
            kind = "internal"
            detail = "The server failed to handle this request."
        }
        title = Self.title(of: status)
    }

    static func title(of status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 410: "Gone"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 503: "Service Unavailable"
        default: status < 500 ? "Client Error" : "Internal Server Error"
        }
    }

    /// What may go to the log of a failed request: the cause, never the OpenAPI runtime's wrapper,
    /// whose description prints the whole request — its Authorization header and its body (a
    /// password, a secret's value). `\(error)`, not a reflection: driver errors would print
    /// queries and their values.
    static func loggable(_ error: any Error) -> String {
        guard let server = error as? ServerError else { return "\(error)" }
        return "\(server.operationID): \(loggable(unwrap(server.underlyingError)))"
    }

    /// Errors from request decoding arrive wrapped by the OpenAPI runtime; find the cause.
    /// A failure before the handler ran (no operation input) is the request's fault.
    static func unwrap(_ error: any Error) -> any Error {
        guard let server = error as? ServerError else { return error }
        let inner = unwrap(server.underlyingError)
        if inner is DomainError || inner is HTTPError || inner is DecodingError { return inner }
        if server.operationInput == nil {
            return DomainError(.invalidRequest, "The request does not match the API contract: \(server.causeDescription).")
        }
        return inner
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).filter { !$0.isEmpty }
            return keys.isEmpty ? "the body" : keys.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)): missing field \(key.stringValue)."
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "\(path(context)) has the wrong type."
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "The body could not be read."
        }
    }

    public var body: Components.Schemas.Problem {
        Components.Schemas.Problem(
            _type: Self.typeURI(kind), title: title, status: status, detail: detail,
            errors: fields.isEmpty ? nil : fields.map { .init(field: $0.field, message: $0.message) })
    }

    public var response: Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        var fields = headers
        fields[.contentType] = "application/problem+json"
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
