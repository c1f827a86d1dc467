import ArgumentParser
import Foundation
import S4AClient

extension S4ACommand {
    /// Parses and runs; exit codes scripts can rely on: 0 ok, 1 failed, 2 usage.
    public static func runMain() async -> Never {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch let problem as APIProblem {
            Output.error(problem.description)
            Foundation.exit(1)
        } catch let error as CommandFailure {
            Output.error(error.message)
            Foundation.exit(error.code)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == .validationFailure {
                // Help, version and usage mistakes.
                let message = fullMessage(for: error)
                if code == .success {
                    print(message)
                    Foundation.exit(0)
                }
                FileHandle.standardError.write(Data((message + "\n").utf8))
                Foundation.exit(2)
            }
            Output.error(String(describing: error))
            Foundation.exit(1)
        }
    }
}

/// A failure with its own message and exit code.
struct CommandFailure: Error {
    var message: String
    var code: Int32 = 1
}
