/// A page that only says something: errors, not found.
struct MessagePage: PageModel {
    var title: String
    var message: String
}
