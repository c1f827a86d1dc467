/// One run's page: its command, how it ended, and its output.
struct RunPage: PageModel {
    var title: String
    var run: RunRow
    var stdout: String
    var stderr: String?
    var truncated: Bool
}
