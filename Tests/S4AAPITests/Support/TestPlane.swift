import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import S4ADomain
import S4AServer
import Testing

/// A control plane on a fresh data directory (a real SQLite file), with a clock tests can move.
final class TestPlane: @unchecked Sendable {
    let directory: URL
    let plane: ControlPlane
    let clock: TestClock

    private init(directory: URL, plane: ControlPlane, clock: TestClock) {
        self.directory = directory
        self.plane = plane
        self.clock = clock
    }

    static func make(_ configure: (inout ServeOptions) -> Void = { _ in }) async throws -> TestPlane {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s4a-test-\(UUID().uuidString)")
        var options = ServeOptions()
        options.dataDirectory = directory.path
        options.bcryptCost = 4
        options.listenPort = 0
        // In-process planes run no metering loop: a lease long enough for any test.
        options.leaseSeconds = 600
        configure(&options)
        let clock = TestClock()
        let plane = try await ControlPlane(options: options, now: { clock.now })
        return TestPlane(directory: directory, plane: plane, clock: clock)
    }

    /// Runs `body` against the router in-process, then closes the store and (unless told not
    /// to, as a restart test does) destroys the servers and removes the files.
    func withClient<T>(removing: Bool = true, _ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        let app = Application(router: try plane.router())
        do {
            let result = try await app.test(.router, body)
            if removing { await close() } else { await plane.shutdown() }
            return result
        } catch {
            await close()
            throw error
        }
    }

    func close() async {
        _ = try? await plane.runtime.removeOrphans(keeping: [])
        await plane.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Time under the test's control; starts at the real now.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date()
    var now: Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current += seconds } }
}

/// A decoded answer: status, headers, raw body and the body as JSON.
struct Answer {
    let status: Int
    let headers: HTTPFields
    let body: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? [] }
    var problemType: String? { json["type"] as? String }
    subscript(key: String) -> Any? { json[key] }
}

extension TestClientProtocol {
    /// One request; `body` is JSON-encoded unless it is already a String (sent as is).
    func call(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, body: Any? = nil,
              headers extra: [String: String] = [:]) async throws -> Answer {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        var buffer: ByteBuffer?
        if let body {
            let data: String
            if let text = body as? String { data = text } else {
                data = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            }
            buffer = ByteBuffer(string: data)
            headers[.contentType] = "application/json"
        }
        for (name, value) in extra { headers[HTTPField.Name(name)!] = value }
        let response = try await execute(uri: path, method: method, headers: headers, body: buffer)
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: response.body))
    }

    /// Signs up and signs in; returns the session token.
    func signUp(_ email: String = "owner-\(UUID().uuidString.prefix(8))@example.com",
                password: String = "correct horse battery") async throws -> String {
        let created = try await call(.post, "/v1/accounts", body: ["email": email, "password": password])
        #expect(created.status == 201)
        let session = try await call(.post, "/v1/sessions", body: ["email": email, "password": password])
        #expect(session.status == 201)
        return try #require(session["token"] as? String)
    }

    func createKey(_ token: String, scopes: [String], extra: [String: Any] = [:]) async throws -> (id: String, token: String) {
        var body: [String: Any] = ["name": "agent", "scopes": scopes]
        body.merge(extra) { $1 }
        let answer = try await call(.post, "/v1/api-keys", token: token, body: body)
        #expect(answer.status == 201, "\(answer.body)")
        let key = try #require(answer["key"] as? [String: Any])
        return (try #require(key["id"] as? String), try #require(answer["token"] as? String))
    }

    func createProject(_ token: String, name: String = "App", slug: String? = nil) async throws -> [String: Any] {
        var body: [String: Any] = ["name": name]
        if let slug { body["slug"] = slug }
        let answer = try await call(.post, "/v1/projects", token: token, body: body)
        #expect(answer.status == 201, "\(answer.body)")
        return answer.json
    }

    func activity(_ token: String, query: String = "") async throws -> [[String: Any]] {
        try await call(.get, "/v1/activity?limit=200\(query)", token: token).items
    }
}
