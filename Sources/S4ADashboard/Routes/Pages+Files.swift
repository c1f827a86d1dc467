import Foundation
import HTTPTypes
import Hummingbird
import S4ADomain

/// The file browser: a server's disk through the same file service as the API (the server must run).
extension Pages {
    func addFiles() {
        get("/servers/{id}/files") { visit in
            let server = try await services.servers.get(visit.principal, id: try visit.parameter("id"))
            let (directory, entries) = try await services.files.list(visit.principal, serverID: server.id,
                                                                     directory: visit.query("path") ?? Server.home)
            let base = directory == "/" ? "" : directory
            return .view("files", FilesPage(
                title: "Files of \(server.name)", serverID: server.id, serverName: server.name, path: directory,
                parentQuery: directory == "/" ? nil : queryValue((directory as NSString).deletingLastPathComponent),
                entries: entries.map { entry in
                    .init(name: entry.name, path: base + "/" + entry.name, pathQuery: queryValue(base + "/" + entry.name),
                          isDirectory: entry.kind == .directory, kind: entry.kind.rawValue,
                          size: Format.bytes(Int64(entry.size)), modified: Format.time(entry.modifiedAt))
                }))
        }
        get("/servers/{id}/files/view") { visit in
            let id = try visit.parameter("id")
            guard let path = visit.query("path") else { throw DomainError.invalid("path", "is required") }
            let bytes = try await services.files.read(visit.principal, serverID: id, path: path)
            let text = bytes.count <= 512 << 10 ? String(validating: bytes, as: UTF8.self) : nil
            return .view("file", FilePage(
                title: path, serverID: id, path: path, pathQuery: queryValue(path), size: Format.bytes(Int64(bytes.count)),
                parent: (path as NSString).deletingLastPathComponent,
                parentQuery: queryValue((path as NSString).deletingLastPathComponent), text: text, binary: text == nil))
        }
        get("/servers/{id}/files/download") { visit in
            guard let path = visit.query("path") else { throw DomainError.invalid("path", "is required") }
            let bytes = try await services.files.read(visit.principal, serverID: try visit.parameter("id"), path: path)
            let name = (path as NSString).lastPathComponent.filter { $0.isLetter || $0.isNumber || "._-".contains($0) }
            return .response(Response(
                status: .ok,
                headers: [.contentType: "application/octet-stream",
                          .contentDisposition: "attachment; filename=\"\(name.isEmpty ? "file" : name)\""],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes))))
        }
        post("/servers/{id}/files/upload", back: filesPage) { visit in
            let id = try visit.parameter("id"), directory = visit.form.text("path") ?? Server.home
            guard let file = visit.files.first(where: { $0.field == "file" }), !file.filename.isEmpty else {
                throw DomainError.invalid("file", "choose a file to upload")
            }
            let name = (file.filename as NSString).lastPathComponent
            let path = (directory == "/" ? "" : directory) + "/" + name
            try await services.files.write(visit.principal, serverID: id, path: path, bytes: file.bytes)
            return .redirect(filesPage(visit), .ok("Uploaded \(path) (\(Format.bytes(Int64(file.bytes.count))))."))
        }
        post("/servers/{id}/files/delete", back: filesPage) { visit in
            guard let path = visit.form.text("path") else { throw DomainError.invalid("path", "is required") }
            try await services.files.delete(visit.principal, serverID: try visit.parameter("id"), path: path)
            return .redirect("/servers/\(try visit.parameter("id"))/files?path="
                + queryValue((path as NSString).deletingLastPathComponent), .ok("Deleted \(path)."))
        }
    }

}

/// The directory listing a file form came from.
@Sendable func filesPage(_ visit: Visit) -> String {
    "/servers/\(visit.parameters.get("id") ?? "")/files?path=" + queryValue(visit.form.text("path") ?? Server.home)
}

/// A value for a URL's query (paths keep their slashes).
func queryValue(_ text: String) -> String {
    text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "/-._~"))) ?? ""
}
