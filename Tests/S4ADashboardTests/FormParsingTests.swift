@testable import S4ADashboard
import S4ADomain
import Testing

@Suite struct FormParsingTests {
    @Test func urlEncodedFormsDecodeRepeatsAndSpaces() {
        let form = FormData(urlEncoded: "name=My+shop&scope=servers%3Aread&scope=servers%3Aexec&empty=&_csrf=abc%2Fd")
        #expect(form["name"] == "My shop")
        #expect(form.all("scope") == ["servers:read", "servers:exec"])
        #expect(form["empty"] == "")
        #expect(form.text("empty") == nil)
        #expect(form["_csrf"] == "abc/d")
        #expect(form["missing"] == nil)
    }

    @Test func moneyFieldsTakeDollarsOrNothing() throws {
        let form = FormData(pairs: [("budget", "25.5"), ("exact", "0.000001"), ("empty", " "), ("bad", "1.0000001"), ("word", "ten")])
        #expect(try form.money("budget")?.value == 25_500_000)
        #expect(try form.money("exact")?.value == 1)
        #expect(try form.money("empty") == nil)
        #expect(try form.money("missing") == nil)
        for field in ["bad", "word"] {
            #expect(throws: DomainError.self) { try form.money(field) }
        }
    }

    @Test func multipartFormsKeepFieldsAndFileBytes() throws {
        let boundary = "----b0undary"
        let payload: [UInt8] = [0, 1, 2, 13, 10, 45, 45, 255]  // binary, with a CRLF and dashes inside
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\ntok\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n/workspace\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        body += payload + Array("\r\n--\(boundary)--\r\n".utf8)
        let form = try #require(MultipartForm(contentType: "multipart/form-data; boundary=\(boundary)", body: body))
        #expect(form.fields["_csrf"] == "tok")
        #expect(form.fields["path"] == "/workspace")
        #expect(form.files.count == 1)
        #expect(form.files.first?.filename == "a b.bin")
        #expect(form.files.first?.bytes == payload)
    }

    @Test func multipartWithoutItsBoundaryIsRefused() {
        #expect(MultipartForm(contentType: "multipart/form-data", body: Array("x".utf8)) == nil)
        #expect(MultipartForm(contentType: "multipart/form-data; boundary=zz", body: Array("no delimiter".utf8)) == nil)
    }
}
