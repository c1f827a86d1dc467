import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOSSL
import S4AClient
import S4AContract
import S4AServer
import S4ATestSupport
import Testing

/// The shell's WebSocket through the real TLS listener, with the client `s4a shell` uses.
@Suite(.tags(.runc), .needs(.runc)) struct ShellRouteTests {
    /// Collects output; `waitFor` polls it.
    final class Screen: @unchecked Sendable {
        private let lock = NSLock()
        private var bytes: [UInt8] = []
        var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
        func append(_ chunk: [UInt8]) { lock.withLock { bytes += chunk } }
        func waitFor(_ text: String) async throws {
            for _ in 0..<200 {
                if self.text.contains(text) { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("never saw \(text.debugDescription) in \(self.text.debugDescription)")
        }
    }

    static func signedIn(_ server: LiveServer, _ email: String) async throws -> (token: String, serverID: String) {
        let token = try await server.withConnection { anonymous in
            let credentials = Components.Schemas.Credentials(email: email, password: "correct horse battery")
            _ = try await anonymous.client.createAccount(body: .json(.init(email: credentials.email, password: credentials.password))).created
            return try await anonymous.client.createSession(body: .json(credentials)).created.body.json.token
        }
        let serverID = try await server.withConnection(token: token) { person in
            let project = try await person.client.createProject(body: .json(.init(name: "Sh"))).created.body.json
            return try await person.client.createServer(body: .json(.init(
                projectId: project.id, name: "sh", memoryMb: 64, diskMb: 64, budgetUsd: .Money("1")))).created.body.json.id
        }
        return (token, serverID)
    }

    @Test func aShellRunsOnATerminalResizesAndEndsWithItsCode() async throws {
        let test = try await TestPlane.make()
        try await LiveServer.run(test) { server in
            let (token, serverID) = try await Self.signedIn(server, "shell@example.com")
            try await server.withConnection(token: token) { person in
                let screen = Screen()
                let (input, typing) = AsyncStream.makeStream(of: ShellInput.self)
                let session = Task {
                    try await person.shell(serverID: serverID, columns: 90, rows: 20, input: input, output: screen.append)
                }
                typing.yield(.bytes(Array("stty size; tty; hostname\n".utf8)))
                try await screen.waitFor(serverID)
                #expect(screen.text.contains("20 90"))
                #expect(screen.text.contains("/dev/pts/"))
                typing.yield(.resize(columns: 120, rows: 40))
                try await Task.sleep(for: .milliseconds(200))
                typing.yield(.bytes(Array("stty size; exit 7\n".utf8)))
                #expect(try await session.value == 7)
                #expect(screen.text.contains("40 120"))
                let runs = try await person.client.listRuns(path: .init(serverId: serverID)).ok.body.json.items
                let shell = try #require(runs.first { $0.kind == "shell" })
                #expect(shell.state == .exited && shell.exitCode == 7)
            }
        }
        await test.close()
    }

    @Test func leavingEndsTheShellAndEverythingItStarted() async throws {
        let test = try await TestPlane.make()
        try await LiveServer.run(test) { server in
            let (token, serverID) = try await Self.signedIn(server, "leave@example.com")
            try await server.withConnection(token: token) { person in
                let screen = Screen()
                let (input, typing) = AsyncStream.makeStream(of: ShellInput.self)
                let session = Task {
                    try await person.shell(serverID: serverID, columns: 80, rows: 24, input: input, output: screen.append)
                }
                typing.yield(.bytes(Array("sleep 919 & echo started-$((40+2))\n".utf8)))
                try await screen.waitFor("started-42")
                session.cancel()
                _ = try? await session.value
                var left = ""
                for _ in 0..<100 {
                    left = try await person.client.execInServer(path: .init(serverId: serverID), body: .json(.init(
                        command: "ps -eo args | grep '^sleep 919' || true"))).ok.body.json.stdout
                    if left.isEmpty { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(left.isEmpty, "left behind: \(left)")
            }
        }
        await test.close()
    }

    @Test func refusedShellsSayWhyAndOpenNothing() async throws {
        let test = try await TestPlane.make()
        try await LiveServer.run(test) { server in
            let (token, serverID) = try await Self.signedIn(server, "refused@example.com")
            let reader = try await server.withConnection(token: token) { person in
                try await person.client.createAPIKey(body: .json(.init(name: "reader", scopes: [.servers_colon_read])))
                    .created.body.json.token
            }
            let (stranger, _) = try await Self.signedIn(server, "stranger@example.com")
            func status(_ token: String?, _ id: String = serverID, columns: Int = 80) async throws -> Int? {
                try await server.withConnection(token: token) { connection in
                    do {
                        _ = try await connection.shell(serverID: id, columns: columns, rows: 24, input: AsyncStream { $0.finish() },
                                                       output: { _ in })
                        return nil
                    } catch let problem as APIProblem {
                        return problem.status
                    }
                }
            }
            #expect(try await status(nil) == 401)
            #expect(try await status(token, columns: 0) == 400)
            #expect(try await status(token, columns: 1001) == 400)
            #expect(try await status("s4a_" + String(repeating: "x", count: 43)) == 401)
            #expect(try await status(reader) == 403)
            #expect(try await status(stranger) == 404)
            #expect(try await status(token, "srv_nope") == 404)
            _ = try await server.withConnection(token: token) { person in
                try await person.client.stopServer(path: .init(serverId: serverID)).ok
            }
            #expect(try await status(token) == 409)

            // The session cookie from a foreign page (cross-site WebSocket hijacking) is not upgraded.
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(server.caCertificatePath)
            for origin in ["https://evil.example", nil] {
                var headers = HTTPFields()
                headers[.cookie] = "__Host-s4a_session=\(token)"
                if let origin { headers[.origin] = origin }
                await #expect(throws: WebSocketClientError.self) {
                    try await WebSocketClient.connect(
                        url: "wss://localhost:\(server.port)/v1/servers/\(serverID)/shell",
                        configuration: .init(additionalHeaders: headers), tlsConfiguration: tls,
                        logger: Logger(label: "test")) { _, _, _ in }
                }
            }
            let runs = try await server.withConnection(token: token) { person in
                try await person.client.listRuns(path: .init(serverId: serverID)).ok.body.json.items
            }
            #expect(runs.isEmpty)
        }
        await test.close()
    }
}
