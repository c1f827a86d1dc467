/// Paths inside a server as people and agents write them: a relative path is under the home
/// directory that exec, the shell, deployments and file listings start in (`/root`, as the
/// API's own default, `Server.home` in the domain), so `app.py` means the same file to every tool.
public enum ServerPath {
    public static let home = "/root"

    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.isEmpty || path == "." { return home }
        return home + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
    }
}
