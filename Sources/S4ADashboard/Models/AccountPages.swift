/// Sign-in and sign-up: the email typed before comes back after a failure.
struct SignInPage: PageModel {
    var title: String
    var email: String
}

struct AccountPage: PageModel {
    var title: String
    var email: String
    var created: String
    var limit: String
    var charged: String
}

/// The one-time link to a fresh export.
struct ExportReadyPage: PageModel {
    var title: String
    var url: String
    var expires: String
}

/// Typing the email out before the account is deleted.
struct AccountDeletePage: PageModel {
    var title: String
    var email: String
}
