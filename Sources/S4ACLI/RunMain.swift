import ArgumentParser
import Foundation
import OpenAPIRuntime
import S4AClient

extension S4ACommand {
    /// Parses and runs; exit codes scripts can rely on: 0 ok, 1 failed, 2 usage.
    public static func runMain() async -> Never {
        // The command that was parsed, for its own usage when its run finds the input wrong.
        var parsed: (any ParsableCommand.Type)?
        do {
            var command = try parseAsRoot()
            parsed = type(of: command)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let problem as APIProblem {
            Output.error(problem.description)
            Foundation.exit(1)
        } catch let error as ClientError {
            // Never the whole ClientError: it prints the operation's input, passwords included.
            Output.error("cannot reach the API (\(error.operationID)): \(Self.describe(error.underlyingError))")
            Foundation.exit(1)
        } catch let error as CommandFailure {
            if !error.silent { Output.error(error.message) }
            Foundation.exit(error.code)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == .validationFailure {
                // Help, version and usage mistakes.
                var message = fullMessage(for: error)
                if let parsed, parsed != S4ACommand.self, error is ValidationError {
                    message = "Error: \(Self.message(for: error))\nUsage: " + usageString(for: parsed)
                }
                if code == .success {
                    print(message)
                    Foundation.exit(0)
                }
                FileHandle.standardError.write(Data((message + "\n").utf8))
                Foundation.exit(2)
            }
            Output.error(LocalFiles.describe(error))
            Foundation.exit(1)
        }
    }
}

extension S4ACommand {
    /// A short cause for transport failures: certificate, refused connection, timeout.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("certificateVerify") || text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("handshakeFailed") {
            return "the server's certificate is not trusted; pass --ca-cert <data-dir>/tls/ca.pem or set S4A_CA_CERT"
        }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        if text.contains("connectTimeout") || text.contains("deadlineExceeded") { return "timed out" }
        return String(text.prefix(200))
    }
}

/// A failure with its own message and exit code.
struct CommandFailure: Error {
    var message: String
    var code: Int32 = 1
    /// The exit code says it all (`s4a exec` passing on the command's).
    var silent = false
}
