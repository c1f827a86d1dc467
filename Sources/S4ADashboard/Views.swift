import Foundation
import Mustache
import S4AWeb

/// Renders the templates in `Templates/` (Mustache, HTML-escaped by default). Every page
/// extends `layout`, which reads `Layout` beside the page's model.
struct Views: Sendable {
    let library: MustacheLibrary

    func render(_ template: String, _ model: any PageModel, layout: Layout) -> String {
        library.render(Rendered(model: model, layout: layout), withTemplate: template)
            ?? "<!doctype html><title>Missing page</title><p>Missing page \(template)."
    }
}

/// A page's data: a struct whose properties its template reads by name. An absent Optional is
/// absent to the template (no section opens, nothing prints), as Mustache reads structs.
protocol PageModel: Sendable {
    var title: String { get }
}

/// What the layout reads on every page, beside the page's own model.
struct Layout: Sendable {
    var csrf: String
    var signedIn: Bool
    var flashOk: String?
    var flashError: String?
}

/// The page's model, then the layout, looked up by name.
struct Rendered: MustacheParent {
    let model: any PageModel
    let layout: Layout

    func child(named name: String) -> Any? {
        Self.value(Mirror(reflecting: model).descendant(name)) ?? Self.value(Mirror(reflecting: layout).descendant(name))
    }

    private static func value(_ found: Any?) -> Any? {
        guard let found else { return nil }
        let mirror = Mirror(reflecting: found)
        guard mirror.displayStyle == .optional else { return found }
        return mirror.children.first.map { value($0.value) } ?? nil
    }
}

/// A message shown once on the next page (after a form's redirect).
struct Flash: Sendable {
    enum Kind: String, Sendable { case ok, error }
    static let cookieName = "__Host-s4a_flash"
    /// Long enough for a failed deploy's reason with its last lines.
    static let maxLength = 1200
    var kind: Kind
    var text: String

    static func ok(_ text: String) -> Flash { Flash(kind: .ok, text: text) }
    static func error(_ text: String) -> Flash { Flash(kind: .error, text: text) }

    var setCookie: String {
        // A cookie holds about 4 KiB; percent-encoding at most triples the text. Only ASCII
        // letters and digits stay as they are (`.alphanumerics` would keep other scripts' letters,
        // which a cookie value may not hold).
        let encoded = "\(kind.rawValue):\(text.prefix(Self.maxLength))".addingPercentEncoding(withAllowedCharacters: Self.plain) ?? ""
        return SessionCookie.setCookie(Self.cookieName, encoded, maxAge: 60, sameSite: .strict)
    }

    static let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    static let clearCookie = SessionCookie.setCookie(cookieName, "", maxAge: 0, sameSite: .strict)

    init(kind: Kind, text: String) {
        self.kind = kind
        self.text = text
    }

    init?(cookie: String) {
        guard let decoded = cookie.removingPercentEncoding, let colon = decoded.firstIndex(of: ":"),
              let kind = Kind(rawValue: String(decoded[..<colon])) else { return nil }
        self.kind = kind
        text = String(decoded[decoded.index(after: colon)...].prefix(Self.maxLength))
    }
}
