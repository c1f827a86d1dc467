import Foundation
import HTTPTypes
import NIOCore
import Hummingbird
import S4ADomain
import S4AWeb

/// One request as a page handler sees it.
struct Visit: Sendable {
    let request: Request
    let parameters: Parameters
    /// The signed-in person (set on every page that requires one).
    let principal: Principal!
    let form: FormData
    let files: [MultipartForm.File]
    let clientAddress: String?
    let csrfToken: String

    func parameter(_ name: String) throws -> String {
        guard let value = parameters.get(name) else { throw DomainError.notFound }
        return value
    }

    /// Throws unless the person typed `expected` into `field`: the confirmation of what cannot be undone.
    func requireTyped(_ field: String, equals expected: String, _ what: String) throws {
        guard form[field] == expected else { throw DomainError.invalid(field, "must be \(what), \(expected), typed out") }
    }

    func query(_ name: String) -> String? {
        guard let value = request.uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return value
    }
}

/// What a handler answers: a page, a redirect (after a form, with a message), or anything else.
enum Answer: Sendable {
    /// A template with its typed model.
    case view(String, any PageModel, status: HTTPResponse.Status = .ok)
    case redirect(String, Flash? = nil)
    case response(Response)
}

/// Route registration with the dashboard's rules: who must be signed in, CSRF on every post,
/// errors as messages on the page the form came from.
struct Pages<Context: RemoteAddressRequestContext>: Sendable {
    let dashboard: Dashboard
    /// Unchecked: only used while routes are added, before serving; the handlers the router
    /// keeps capture `self` for `dashboard` alone.
    nonisolated(unsafe) let router: Router<Context>
    var services: Dashboard.Services { dashboard.services }

    static var formLimit: Int { 256 << 10 }
    static var uploadLimit: Int { FileService.maxBytes + (64 << 10) }

    func get(_ path: RouterPath, signedIn: Bool = true, _ body: @escaping @Sendable (Visit) async throws -> Answer) {
        router.get(path) { request, context in
            try await handle(request, context, signedIn: signedIn, isPost: false, back: { _ in "/" }, body)
        }
    }

    /// `back`: where to show a failure (usually the page the form is on).
    func post(_ path: RouterPath, signedIn: Bool = true, back: @escaping @Sendable (Visit) -> String,
              _ body: @escaping @Sendable (Visit) async throws -> Answer) {
        router.post(path) { request, context in
            try await handle(request, context, signedIn: signedIn, isPost: true, back: back, body)
        }
    }

    private func handle(_ request: Request, _ context: Context, signedIn: Bool, isPost: Bool,
                        back: @Sendable (Visit) -> String, _ body: @Sendable (Visit) async throws -> Answer) async throws -> Response {
        let (csrfToken, csrfCookie) = dashboard.csrf.token(for: request.headers)
        var cookies = csrfCookie.map { [$0] } ?? []
        var principal: Principal?
        if let token = SessionCookie.value(in: request.headers),
           let found = try await services.authenticator.principal(token: token), found.isSession {
            principal = found
        }
        if signedIn, principal == nil {
            return Self.redirect(to: "/signin", cookies: cookies)
        }
        var form = FormData(pairs: [])
        var files: [MultipartForm.File] = []
        if isPost {
            let type = request.headers[.contentType] ?? ""
            if type.lowercased().hasPrefix("multipart/form-data") {
                let buffer = try await request.body.collect(upTo: Self.uploadLimit)
                guard let multipart = MultipartForm(contentType: type, body: Array(buffer.readableBytesView)) else {
                    return Self.text(.badRequest, "The upload could not be read.")
                }
                form = multipart.fields
                files = multipart.files
            } else {
                let buffer = try await request.body.collect(upTo: Self.formLimit)
                form = FormData(urlEncoded: String(buffer: buffer))
            }
            do {
                try dashboard.csrf.check(request.headers, submitted: form[CSRFGuard.fieldName])
            } catch let error as DomainError {
                return Self.text(.forbidden, error.detail)
            }
        }
        let visit = Visit(request: request, parameters: context.parameters, principal: principal, form: form,
                          files: files, clientAddress: context.remoteAddress?.ipAddress, csrfToken: csrfToken)
        let answer: Answer
        do {
            answer = try await body(visit)
        } catch let error as DomainError {
            if error.kind == .unauthenticated { return Self.redirect(to: "/signin", cookies: cookies) }
            if isPost, error.kind != .notFound {
                var text = error.detail
                if let retry = error.retryAfter { text += " (wait \(retry) s)" }
                return Self.redirect(to: back(visit), cookies: cookies + [Flash.error(text).setCookie])
            }
            answer = .view("error", MessagePage(title: error.kind == .notFound ? "Not found" : "Something went wrong",
                                                message: error.kind == .notFound ? "There is nothing here, or it is not yours." : error.detail),
                           status: HTTPResponse.Status(code: error.kind.httpStatus))
        }
        switch answer {
        case .response(let response):
            return Self.adding(cookies, to: response)
        case .redirect(let location, let flash):
            if let flash { cookies.append(flash.setCookie) }
            return Self.redirect(to: location, cookies: cookies)
        case .view(let template, let model, let status):
            let layout = layout(csrfToken, principal, request, &cookies)
            return Self.html(dashboard.views.render(template, model, layout: layout), status: status, cookies: cookies)
        }
    }

    /// The layout's values; a flash message is shown once (its cookie cleared).
    private func layout(_ csrfToken: String, _ principal: Principal?, _ request: Request, _ cookies: inout [String]) -> Layout {
        var layout = Layout(csrf: csrfToken, signedIn: principal != nil)
        if let cookie = SessionCookie.value(named: Flash.cookieName, in: request.headers) {
            cookies.append(Flash.clearCookie)
            if let flash = Flash(cookie: cookie) {
                switch flash.kind {
                case .ok: layout.flashOk = flash.text
                case .error: layout.flashError = flash.text
                }
            }
        }
        return layout
    }

    static func html(_ html: String, status: HTTPResponse.Status, cookies: [String]) -> Response {
        adding(cookies, to: Response(status: status, headers: [.contentType: "text/html; charset=utf-8"],
                                     body: .init(byteBuffer: ByteBuffer(string: html))))
    }

    static func redirect(to location: String, cookies: [String]) -> Response {
        adding(cookies, to: Response(status: .seeOther, headers: [.location: location]))
    }

    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
    }

    static func adding(_ cookies: [String], to response: Response) -> Response {
        var response = response
        for cookie in cookies { response.headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return response
    }
}
