import Foundation
import MCP
import OpenAPIRuntime
import S4AClient
import S4AContract

/// What a tool answers: text for the model, marked as an error when the call failed.
struct ToolOutput: Sendable {
    var text: String
    var isError = false

    /// The API's answer as pretty JSON (its own field names and RFC 3339 timestamps).
    static func json<T: Encodable>(_ value: T, note: String? = nil) throws -> ToolOutput {
        let encoder = JSONEncoder.s4a
        encoder.outputFormatting.insert(.prettyPrinted)
        let body = String(decoding: try encoder.encode(value), as: UTF8.self)
        return ToolOutput(text: note.map { "\($0)\n\(body)" } ?? body)
    }

    static func failure(_ error: any Error) -> ToolOutput {
        ToolOutput(text: describe(error), isError: true)
    }

    /// An error as the model should read it: the API's problem (title, status, detail and
    /// field errors), an argument mistake, or why the API could not be reached. Never a
    /// `ClientError`'s whole description: it prints the operation's input (a secret's value).
    static func describe(_ error: any Error) -> String {
        switch error {
        case let problem as APIProblem:
            return "The API refused: \(problem.description)"
        case let input as ToolInputError:
            return input.description
        case let reference as ReferenceError:
            return reference.description
        case let client as ClientError:
            return "Cannot reach the API (\(client.operationID)): \(cause(client.underlyingError))"
        default:
            return "Failed: \(cause(error))"
        }
    }

    static func cause(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("certificateVerify") || text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("handshakeFailed") {
            return "the server's certificate is not trusted; set S4A_CA_CERT to the platform's CA certificate"
        }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("connectTimeout") || text.contains("deadlineExceeded") { return "timed out" }
        return String(text.prefix(300))
    }
}
