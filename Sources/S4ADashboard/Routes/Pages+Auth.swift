import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain
import S4AWeb

extension Pages {
    func addAuth() {
        get("/", signedIn: false) { visit in .redirect(visit.principal == nil ? "/signin" : "/projects") }
        get("/signin", signedIn: false) { visit in
            // After a failed attempt the email comes back in the query, so that only the password is typed again.
            visit.principal == nil ? .view("signin", SignInPage(title: "Sign in", email: visit.query("email") ?? "")) : .redirect("/projects")
        }
        get("/signup", signedIn: false) { _ in .view("signup", SignInPage(title: "Sign up", email: "")) }
        get("**", signedIn: false) { visit in
            // A browser gets a page; any other client the API's own 404 problem, byte for byte.
            guard visit.request.headers[.accept]?.contains("text/html") == true else {
                return .response(Response(
                    status: .notFound, headers: [.contentType: "application/problem+json"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"detail":"No such resource.","status":404,"title":"Not Found","type":"urn:s4a:problem:not-found"}"#))))
            }
            return .view("error", MessagePage(title: "Not found", message: "There is no such page."), status: .notFound)
        }

        post("/signin", signedIn: false, back: { visit in "/signin?email=" + queryValue(visit.form["email"] ?? "") }) { visit in
            try await signIn(visit, email: visit.form["email"] ?? "", password: visit.form["password"] ?? "",
                             welcome: nil)
        }
        post("/signup", signedIn: false, back: { _ in "/signup" }) { visit in
            let email = visit.form["email"] ?? "", password = visit.form["password"] ?? ""
            guard password == visit.form["password_again"] else {
                throw DomainError.invalid("password", "and its repetition differ")
            }
            try await services.accounts.signUp(email: email, password: password)
            return try await signIn(visit, email: email, password: password,
                                    welcome: "Welcome. Create a project, then an API key for your agent.")
        }
        post("/signout", back: { _ in "/" }) { visit in
            try await services.accounts.signOut(visit.principal)
            var response = Response(status: .seeOther, headers: [.location: "/signin"])
            response.headers[.setCookie] = SessionCookie.header(value: "", maxAge: 0)
            return .response(response)
        }
    }

    private func signIn(_ visit: Visit, email: String, password: String, welcome: String?) async throws -> Answer {
        let signIn = try await services.accounts.signIn(email: email, password: password, clientAddress: visit.clientAddress)
        let maxAge = Int(signIn.session.expiresAt.timeIntervalSince(signIn.session.createdAt))
        var response = Response(status: .seeOther, headers: [.location: "/projects"])
        response.headers.append(HTTPField(name: .setCookie, value: SessionCookie.header(value: signIn.token, maxAge: maxAge)))
        if let welcome { response.headers.append(HTTPField(name: .setCookie, value: Flash.ok(welcome).setCookie)) }
        return .response(response)
    }
}
