@testable import S4ADashboard
import Testing

@Suite struct PageModelTests {
    struct Sample: PageModel {
        var title: String
        var lastError: String?
        var port: Int??
    }

    let layout = Layout(csrf: "tok", signedIn: true)

    @Test func anAbsentOptionalIsAbsentToTheTemplate() {
        // An absent value once reached a template as present: it rendered "nil" and opened its section.
        let bare = Rendered(model: Sample(title: "web"), layout: layout)
        #expect(bare.child(named: "lastError") == nil)
        #expect(bare.child(named: "port") == nil)
        #expect(bare.child(named: "title") as? String == "web")
        let full = Rendered(model: Sample(title: "web", lastError: "disk full", port: .some(8080)), layout: layout)
        #expect(full.child(named: "lastError") as? String == "disk full")
        #expect(full.child(named: "port") as? Int == 8080)
    }

    @Test func theLayoutIsReadBesideThePage() {
        let page = Rendered(model: Sample(title: "web"), layout: layout)
        #expect(page.child(named: "csrf") as? String == "tok")
        #expect(page.child(named: "signedIn") as? Bool == true)
        #expect(page.child(named: "flashError") == nil)
        #expect(page.child(named: "noSuchKey") == nil)
    }
}
