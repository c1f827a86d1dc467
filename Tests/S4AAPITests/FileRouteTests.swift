import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import S4AServer
import S4ATestSupport
import Testing

extension TestClientProtocol {
    /// A request with a raw body and content type; the answer's body as bytes.
    func raw(_ method: HTTPRequest.Method, _ path: String, token: String, body: [UInt8]? = nil,
             contentType: String = "application/octet-stream") async throws -> (status: Int, bytes: [UInt8], headers: HTTPFields) {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        if body != nil { headers[.contentType] = contentType }
        let response = try await execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) })
        return (Int(response.status.code), Array(buffer: response.body), response.headers)
    }
}

func encoded(_ path: String) -> String {
    path.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~")))!
}

@Suite(.serialized, .tags(.runc), .needs(.runc)) struct FileRouteTests {
    @Test func writeReadListDeleteAndArchives() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let id = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            let files = "/v1/servers/\(id)/files/"
            let every = (0...255).map(UInt8.init) + Array("end".utf8)
            #expect(try await client.raw(.put, files + encoded("srv/www/data.bin"), token: session, body: every).status == 204)
            let read = try await client.raw(.get, files + encoded("/srv/www/data.bin"), token: session)
            #expect(read.status == 200)
            #expect(read.bytes == every)
            #expect(try await client.exec(session, id, ["command": "wc -c < /srv/www/data.bin"])["stdout"] as? String == "259\n")

            let listing = try await client.call(.get, "/v1/servers/\(id)/files?dir=/srv/www", token: session)
            #expect(listing.status == 200)
            let entry = try #require(listing.items.first)
            #expect(entry["name"] as? String == "data.bin")
            #expect(entry["type"] as? String == "file")
            #expect(entry["size"] as? Int == 259)
            #expect(entry["mode"] as? String == "644")
            #expect(try await client.call(.get, "/v1/servers/\(id)/files?dir=/nope", token: session).status == 404)
            #expect(try await client.call(.get, "/v1/servers/\(id)/files?dir=/srv/www/data.bin", token: session).status == 422)
            #expect(try await client.raw(.get, files + encoded("/srv"), token: session).status == 422)
            #expect(try await client.raw(.get, files + encoded("/missing"), token: session).status == 404)
            #expect(try await client.raw(.put, files + encoded("/usr/bin/evil"), token: session, body: [1]).status == 422)

            let tar = try await client.raw(.get, "/v1/servers/\(id)/archive?dir=/srv", token: session)
            #expect(tar.status == 200)
            #expect(tar.headers[.contentType] == "application/x-tar")
            #expect(try await client.raw(.put, "/v1/servers/\(id)/archive?dir=/restored", token: session, body: tar.bytes,
                                         contentType: "application/x-tar").status == 204)
            #expect(try await client.raw(.get, files + encoded("/restored/www/data.bin"), token: session).bytes == every)

            #expect(try await client.raw(.delete, files + encoded("/srv/www"), token: session).status == 204)
            #expect(try await client.raw(.get, files + encoded("/srv/www/data.bin"), token: session).status == 404)
            #expect(try await client.raw(.delete, files + encoded("/"), token: session).status == 422)
            // A reader may read, not write.
            let reader = try await client.createKey(session, scopes: ["servers:read"])
            #expect(try await client.raw(.get, files + encoded("/restored/www/data.bin"), token: reader.token).status == 200)
            #expect(try await client.raw(.put, files + encoded("/x"), token: reader.token, body: [1]).status == 403)
            _ = try await client.call(.delete, "/v1/servers/\(id)", token: session)
        }
    }

    /// Paths and links that point outside the server — up the tree, at the host, at another
    /// server's disk, swapped in while requests run — only ever reach the server's own files.
    @Test func pathAttacksStayInside() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let a = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            let b = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            let secret = "b-only-\(UUID().uuidString)"
            _ = try await client.exec(session, b, ["command": "echo \(secret) > /root/secret"])
            // Where B's file lives on the host, and a host file of our own.
            let bOnHost = test.directory.appendingPathComponent("runtime/servers/\(b)/disk/upper/root/secret").path
            #expect((try? String(contentsOfFile: bOnHost, encoding: .utf8)) == secret + "\n", "the test aims at the real file")
            let canary = test.directory.appendingPathComponent("canary").path
            try "host".write(toFile: canary, atomically: true, encoding: .utf8)

            let setup = """
            ln -s \(bOnHost) /root/to-b; ln -s /etc/shadow /root/to-shadow; ln -s \(canary) /root/to-canary
            ln -s ../../../../../../../../\(bOnHost) /root/up-to-b
            """
            #expect(try await client.exec(session, a, ["command": setup])["exit_code"] as? Int == 0)
            let files = "/v1/servers/\(a)/files/"
            for path in ["/root/to-b", "/root/up-to-b", "../../../../\(bOnHost)", bOnHost, "/root/../../\(bOnHost)",
                         "/root/to-shadow", "/etc/shadow", "../../../etc/shadow", "/proc/1/root/\(bOnHost)"] {
                let answer = try await client.raw(.get, files + encoded(path), token: session)
                let text = String(decoding: answer.bytes, as: UTF8.self)
                #expect(!text.contains(secret), "\(path) reached B")
                #expect(!text.contains("root:"), "\(path) reached a shadow file")
                #expect(answer.status == 404, "\(path) → \(answer.status)")
            }
            // Writing through a link to a host path writes the server's own file, never the host's.
            // (Inside A the link's target directory does not exist, so the write fails there.)
            #expect(try await client.raw(.put, files + encoded("/root/to-canary"), token: session, body: Array("pwned".utf8)).status == 422)
            #expect(try String(contentsOfFile: canary, encoding: .utf8) == "host")
            #expect(try await client.raw(.delete, files + encoded(bOnHost), token: session).status == 404)
            #expect(FileManager.default.fileExists(atPath: bOnHost))

            // A link swapped back and forth while reads run.
            let swap = "echo mine > /root/plain; while :; do ln -sfn \(bOnHost) /root/race; ln -sfn /root/plain /root/race; done"
            _ = try await client.exec(session, a, ["command": "nohup sh -c '\(swap)' >/dev/null 2>&1 &"])
            var reads = 0
            for _ in 0..<40 {
                let answer = try await client.raw(.get, files + encoded("/root/race"), token: session)
                #expect(!String(decoding: answer.bytes, as: UTF8.self).contains(secret))
                if answer.status == 200 { reads += 1 }
            }
            #expect(reads > 0, "the race target was readable at least sometimes")

            // An archive whose members climb out is unpacked inside the server.
            let tar = try await client.exec(session, a, ["command": "cd /tmp && mkdir -p x && echo esc > x/f && tar -cf - -P --transform 's,^x,../../../..\(test.directory.path),' x/f | base64 -w0"])
            let tarBytes = [UInt8](Data(base64Encoded: try #require(tar["stdout"] as? String)) ?? Data())
            #expect(!tarBytes.isEmpty)
            _ = try await client.raw(.put, "/v1/servers/\(a)/archive?dir=/root/in", token: session, body: tarBytes,
                                     contentType: "application/x-tar")
            #expect(!FileManager.default.fileExists(atPath: test.directory.appendingPathComponent("f").path))
            for id in [a, b] { _ = try await client.call(.delete, "/v1/servers/\(id)", token: session) }
        }
    }

    /// One server's file with a modification time far past year 9999 (or before year 1) once
    /// crashed the control plane on listing; now it lists, clamped, and the plane answers on.
    @Test func extremeModificationTimesListWithoutCrashing() async throws {
        let test = try await TestPlane.make()
        try await test.withClient { client in
            let session = try await client.signUp()
            let project = try #require(try await client.createProject(session)["id"] as? String)
            let id = try #require(try await client.createServer(session, projectID: project)["id"] as? String)
            let script = "python3 -c \"import os\nfor n, t in (('far', 9e18), ('past', -9e18), ('huge', 1e17)):\n  open('/tmp/' + n, 'w').close(); os.utime('/tmp/' + n, (t, t))\""
            #expect(try await client.exec(session, id, ["command": script])["exit_code"] as? Int == 0)
            let listing = try await client.call(.get, "/v1/servers/\(id)/files?dir=/tmp", token: session)
            #expect(listing.status == 200)
            let times = Dictionary(uniqueKeysWithValues: listing.items.compactMap { item in
                (item["name"] as? String).map { ($0, item["modified_at"] as? String ?? "") }
            })
            #expect(times["far"] == "9999-12-31T23:59:59.000Z")
            #expect(times["huge"] == "9999-12-31T23:59:59.000Z")
            #expect(times["past"]?.hasPrefix("0001-01-01T00:00:00") == true)
            // The archive of / holds the server's disk only: no /proc, /sys or /dev entries.
            let tar = try await client.raw(.get, "/v1/servers/\(id)/archive?dir=/", token: session)
            #expect(tar.status == 200)
            var names: [String] = []
            var offset = 0
            while offset + 512 <= tar.bytes.count, tar.bytes[offset..<(offset + 512)].contains(where: { $0 != 0 }) {
                let header = Array(tar.bytes[offset..<(offset + 512)])
                names.append(String(decoding: header[0..<100].prefix { $0 != 0 }, as: UTF8.self))
                let size = Int(String(decoding: header[124..<135], as: UTF8.self), radix: 8) ?? 0
                offset += 512 + (size + 511) / 512 * 512
            }
            #expect(names.contains("root/"))
            #expect(!names.contains { $0.hasPrefix("proc/") || $0.hasPrefix("sys/") || $0.hasPrefix("dev/") }, "\(names)")
            // /tmp is another mount: there as an empty directory, without the files in it.
            #expect(names.contains("tmp/") && !names.contains { $0.hasPrefix("tmp/") && $0 != "tmp/" }, "\(names)")
            #expect(try await client.call(.get, "/v1/servers/\(id)/files?dir=/proc", token: session).status == 422)
            _ = try await client.call(.delete, "/v1/servers/\(id)", token: session)
        }
    }
}
