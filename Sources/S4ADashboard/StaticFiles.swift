import Foundation
import Hummingbird

/// The stylesheet and the few scripts, read once at start and served from memory.
struct StaticFiles: Sendable {
    let files: [String: (type: String, bytes: ByteBuffer)]

    init(directory: URL) throws {
        var files: [String: (String, ByteBuffer)] = [:]
        let types = ["css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml"]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            guard let type = types[(name as NSString).pathExtension] else { continue }
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            files[name] = (type, ByteBuffer(bytes: data))
        }
        self.files = files
    }

    func add<Context: RequestContext>(to router: Router<Context>) {
        let files = self.files
        router.get("/static/{name}") { _, context -> Response in
            guard let name = context.parameters.get("name"), let file = files[name] else {
                return Response(status: .notFound)
            }
            return Response(status: .ok, headers: [.contentType: file.type, .cacheControl: "public, max-age=300"],
                            body: .init(byteBuffer: file.bytes))
        }
    }
}
