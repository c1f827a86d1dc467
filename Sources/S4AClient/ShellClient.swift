import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore

/// What a shell's user does: types, resizes the terminal, or has no more input.
public enum ShellInput: Sendable {
    case bytes([UInt8])
    case resize(columns: Int, rows: Int)
    /// Piped input ended: the terminal gets an end-of-file (Ctrl-D), as a typist would send.
    case endOfInput
}

extension APIConnection {
    /// Opens a server's shell (the WebSocket of `GET /v1/servers/{id}/shell`), sends `input`,
    /// hands each piece of output to `output`, and returns the shell's exit code when it
    /// ends (nil if the connection closed without one). When the server refuses the upgrade,
    /// throws the `APIProblem` that says why (asked again as plain HTTP).
    public func shell(serverID: String, columns: Int, rows: Int, input: AsyncStream<ShellInput>,
                      output: @escaping @Sendable ([UInt8]) -> Void) async throws -> Int32? {
        guard var components = URLComponents(url: baseURL, resolvingAgainstBaseURL: false) else {
            throw WebSocketClientError.invalidURL
        }
        components.scheme = components.scheme == "http" ? "ws" : "wss"
        components.path = (components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path)
            + "/v1/servers/\(serverID)/shell"
        components.queryItems = [URLQueryItem(name: "cols", value: "\(columns)"), URLQueryItem(name: "rows", value: "\(rows)")]
        guard let url = components.string else { throw WebSocketClientError.invalidURL }
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        let exitCode = ExitCode()
        do {
            try await connect(url, headers: headers, input: input, output: output, exitCode: exitCode)
        } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
            if case .default(let status, let problem) = try await client.getServerShell(
                path: .init(serverId: serverID), query: .init(cols: columns, rows: rows)) {
                throw APIProblem(status: status, problem)
            }
            throw error
        }
        return exitCode.value
    }

    private func connect(_ url: String, headers: HTTPFields, input: AsyncStream<ShellInput>,
                         output: @escaping @Sendable ([UInt8]) -> Void, exitCode: ExitCode) async throws {
        try await WebSocketClient.connect(
            url: url, configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: headers), tlsConfiguration: tls,
            logger: Logger(label: "s4a.shell")
        ) { inbound, outbound, _ in
            let quiet = Quiet()
            let sender = Task {
                for await item in input {
                    switch item {
                    case .bytes(let bytes): try? await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                    case .resize(let columns, let rows):
                        try? await outbound.write(.text(#"{"type":"resize","cols":\#(columns),"rows":\#(rows)}"#))
                    case .endOfInput:
                        // A Ctrl-D typed while a command still runs reaches the shell as a NUL, not
                        // as end-of-file: send it whenever the shell has gone quiet (at its prompt),
                        // again after each time it prints, until the connection ends.
                        while !Task.isCancelled {
                            while ContinuousClock.now - quiet.lastOutput < .milliseconds(300) {
                                guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { return }
                            }
                            let sent = ContinuousClock.now
                            try? await outbound.write(.binary(ByteBuffer(bytes: [0x04])))
                            while quiet.lastOutput < sent {
                                guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { return }
                            }
                        }
                    }
                }
            }
            defer { sender.cancel() }
            for try await message in inbound.messages(maxSize: 1 << 20) {
                switch message {
                case .binary(let buffer):
                    quiet.touch()
                    output(Array(buffer.readableBytesView))
                case .text(let text):
                    if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                       object["type"] as? String == "exit", let code = object["exit_code"] as? Int {
                        exitCode.set(Int32(truncatingIfNeeded: code))
                    }
                }
            }
        }
    }
}

private final class ExitCode: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Int32?
    var value: Int32? { lock.withLock { stored } }
    func set(_ code: Int32) { lock.withLock { stored = code } }
}

/// When the shell last printed.
private final class Quiet: @unchecked Sendable {
    private let lock = NSLock()
    private var last = ContinuousClock.now
    var lastOutput: ContinuousClock.Instant { lock.withLock { last } }
    func touch() { lock.withLock { last = .now } }
}
