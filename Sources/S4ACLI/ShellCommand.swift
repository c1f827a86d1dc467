import ArgumentParser
import Foundation
import S4AClient
#if canImport(Glibc)
import Glibc
#endif

/// `s4a shell SERVER`: an interactive terminal in a server.
struct ShellCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell", abstract: "Open an interactive shell in a server (a terminal over a WebSocket).",
        discussion: """
        On a terminal, keys go to the server as typed and the window size follows yours; leave with `exit` \
        or Ctrl-D. With piped input (no terminal) the input is typed in, then Ctrl-D. Exits with the shell's code.
        """)

    @OptionGroup var client: ClientOptions
    @Argument(help: "The server: its id (srv_…) or project/name.") var server: String

    func run() async throws {
        let interactive = isatty(STDIN_FILENO) == 1
        let size = Self.windowSize() ?? (columns: 80, rows: 24)
        let (input, continuation) = AsyncStream.makeStream(of: ShellInput.self)
        var saved = termios()
        let raw = interactive && tcgetattr(STDIN_FILENO, &saved) == 0
        if raw {
            var mode = saved
            cfmakeraw(&mode)
            tcsetattr(STDIN_FILENO, TCSANOW, &mode)
        }
        defer { if raw { tcsetattr(STDIN_FILENO, TCSANOW, &saved) } }
        Self.readInput(into: continuation, interactive: interactive)
        signal(SIGWINCH, SIG_IGN)
        let resizes = DispatchSource.makeSignalSource(signal: SIGWINCH)
        resizes.setEventHandler {
            if let size = Self.windowSize() { continuation.yield(.resize(columns: size.columns, rows: size.rows)) }
        }
        resizes.resume()
        defer { resizes.cancel() }

        let code = try await withConnection(client) { connection in
            try await connection.shell(serverID: try await References.serverID(server, connection), columns: size.columns, rows: size.rows, input: input) { bytes in
                FileHandle.standardOutput.write(Data(bytes))
            }
        }
        guard let code else { throw CommandFailure(message: "the connection closed before the shell ended") }
        if code != 0 { throw CommandFailure(message: "", code: code, silent: true) }
    }

    /// Standard input, on a thread of its own (reads block until something is typed).
    static func readInput(into continuation: AsyncStream<ShellInput>.Continuation, interactive: Bool) {
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                continuation.yield(.bytes(Array(buffer[0..<count])))
            }
            if !interactive { continuation.yield(.endOfInput) }
        }
    }

    static func windowSize() -> (columns: Int, rows: Int)? {
        var window = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0 else { return nil }
        return (Int(window.ws_col), Int(window.ws_row))
    }
}
