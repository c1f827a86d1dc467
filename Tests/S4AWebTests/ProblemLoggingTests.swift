import HTTPTypes
import OpenAPIRuntime
@testable import S4AWeb
import Testing

/// A request that fails on the server is logged by its cause only: the OpenAPI runtime's
/// wrapper describes the whole request (headers, body, decoded input), and so would print a
/// bearer token, a password or a secret's value into the operator's log.
@Suite struct ProblemLoggingTests {
    struct Broken: Error, CustomStringConvertible { var description: String { "disk on fire" } }

    @Test func aFailedRequestsLogLineHoldsNoCredentialOrBody() {
        let request = HTTPRequest(method: .put, scheme: "https", authority: "localhost", path: "/v1/projects/p/secrets/DB",
                                  headerFields: [.authorization: "Bearer s4a_TOPSECRETTOKEN", .cookie: "__Host-s4a_session=s4s_SESSION"])
        let error = ServerError(operationID: "setProjectSecret", request: request,
                                requestBody: HTTPBody(#"{"value":"hunter2-the-value"}"#), requestMetadata: .init(),
                                operationInput: ["value": "hunter2-the-value"], causeDescription: "handler threw",
                                underlyingError: Broken())
        // What the runtime itself would print: the test is only worth something while it leaks.
        #expect("\(error)".contains("s4a_TOPSECRETTOKEN") || "\(error)".contains("hunter2-the-value"))
        let line = ProblemResponse.loggable(error)
        #expect(line == "setProjectSecret: disk on fire")
        for leak in ["TOPSECRET", "s4s_SESSION", "hunter2"] { #expect(!line.contains(leak)) }
    }
}
