import Foundation
import S4ADomain

extension Pages {
    /// `/preview/<slug>`: a signed-in person of the project's account is sent to its URL with
    /// a short-lived grant (PreviewGrants); anyone else gets the dashboard's not-found page.
    func addPreview() {
        get("/preview/{slug}") { visit in
            let url = try await services.previews.mint(visit.principal, slug: try visit.parameter("slug"))
            return .redirect(url.absoluteString)
        }
    }
}
