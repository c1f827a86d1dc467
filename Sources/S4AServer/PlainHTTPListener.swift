import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import S4AACME
import S4AAPI

/// The plain-HTTP listener's answers: HTTP-01 key authorizations (from the ACME client's
/// pending challenges, or a file of that token's name in the challenge directory), 308 to
/// HTTPS for the API host and project URLs, 404 for everything else. It reads no body.
struct PlainHTTPResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let apiHost: String
    let appsDomain: String
    let httpsPort: Int
    let challenges: HTTP01Challenges
    let challengeDirectory: URL

    func respond(to request: Request, context: Context) async throws -> Response {
        switch PlainHTTPRoute.route(method: request.method.rawValue, authority: request.head.authority, path: request.head.path,
                                    apiHost: apiHost, appsDomain: appsDomain, httpsPort: httpsPort) {
        case .notFound:
            return IngressAnswers.notFound()
        case .redirect(let location):
            return Response(status: .permanentRedirect,
                            headers: [.location: location, .cacheControl: "no-store", .contentType: "text/plain; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: "Moved to \(location)\n")))
        case .challenge(let token):
            guard let answer = challenges.response(forToken: token) ?? planted(token) else { return IngressAnswers.notFound() }
            return Response(status: .ok, headers: [.contentType: "text/plain", .cacheControl: "no-store"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: answer)))
        }
    }

    /// A key authorization an ACME client beside the control plane left in the challenge
    /// directory (as it would in a webroot). `token` is base64url, so it names no other file.
    private func planted(_ token: String) -> String? {
        let path = challengeDirectory.appendingPathComponent(token).path
        guard let data = FileManager.default.contents(atPath: path), data.count <= 4096,
              let text = String(data: data, encoding: .utf8) else { return nil }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension ControlPlane {
    /// The plain-HTTP application on `--http-listen`, or nil when it is off. Same HTTP/1.1
    /// limits as the HTTPS listener: head deadline, idle timeout, header bounds.
    public func plainHTTPApplication(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> (some ApplicationProtocol)? {
        guard let host = options.httpListenHost, let port = options.httpListenPort else { return nil as Application<PlainHTTPResponder>? }
        let responder = PlainHTTPResponder(apiHost: options.apiHost, appsDomain: options.appsDomain, httpsPort: options.listenPort,
                                           challenges: challenges, challengeDirectory: options.acmeChallengeDirectory)
        return Application(
            responder: responder,
            server: HTTPServerBuilder { [http1Configuration, headerTimeout] responder in
                FirstHeadDeadlineChannel(base: HTTP1Channel(responder: responder, configuration: http1Configuration),
                                         limit: headerTimeout)
            },
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}
