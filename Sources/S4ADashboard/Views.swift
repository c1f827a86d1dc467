import Foundation
import Mustache

/// Renders the templates in `Templates/` (Mustache, HTML-escaped by default). Every page
/// extends `layout`, which reads the keys set in `page(...)`.
struct Views: Sendable {
    let library: MustacheLibrary

    func render(_ template: String, _ data: [String: Any]) -> String {
        library.render(PageData.present(data) ?? [:], withTemplate: template)
            ?? "<!doctype html><title>Missing page</title><p>Missing page \(template)."
    }
}

/// What a page's data holds once every absent value is gone: an Optional boxed in `Any` is a
/// value to Mustache (an empty one rendered "nil" and opened its section), so `nil` anywhere
/// in the data, however deep, is removed before it reaches a template.
enum PageData {
    static func present(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return present(wrapped)
        }
        if let dictionary = value as? [String: Any] {
            var kept: [String: Any] = [:]
            for (key, item) in dictionary { if let item = present(item) { kept[key] = item } }
            return kept
        }
        if let array = value as? [Any] { return array.compactMap(present) }
        return value
    }
}

/// A message shown once on the next page (after a form's redirect).
struct Flash: Sendable {
    enum Kind: String, Sendable { case ok, error }
    static let cookieName = "__Host-s4a_flash"
    var kind: Kind
    var text: String

    static func ok(_ text: String) -> Flash { Flash(kind: .ok, text: text) }
    static func error(_ text: String) -> Flash { Flash(kind: .error, text: text) }

    var setCookie: String {
        let encoded = "\(kind.rawValue):\(text)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return SessionCookie.setCookie(Self.cookieName, encoded, maxAge: 60, sameSite: "Strict")
    }

    static let clearCookie = SessionCookie.setCookie(cookieName, "", maxAge: 0, sameSite: "Strict")

    init(kind: Kind, text: String) {
        self.kind = kind
        self.text = text
    }

    init?(cookie: String) {
        guard let decoded = cookie.removingPercentEncoding, let colon = decoded.firstIndex(of: ":"),
              let kind = Kind(rawValue: String(decoded[..<colon])) else { return nil }
        self.kind = kind
        text = String(decoded[decoded.index(after: colon)...].prefix(500))
    }
}
