import Foundation

/// A `multipart/form-data` body (the file browser's upload form), parsed whole: the form's
/// size is bounded by the upload limit before it is read. Fields become a `FormData`; file
/// parts keep their bytes.
struct MultipartForm: Sendable {
    struct File: Sendable {
        var field: String
        var filename: String
        var bytes: [UInt8]
    }

    var fields = FormData(pairs: [])
    var files: [File] = []

    /// nil when the body is not multipart with the content type's boundary.
    init?(contentType: String, body: [UInt8]) {
        guard let range = contentType.range(of: "boundary=") else { return nil }
        var boundary = String(contentType[range.upperBound...])
        if let end = boundary.firstIndex(of: ";") { boundary = String(boundary[..<end]) }
        boundary = boundary.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        guard !boundary.isEmpty else { return nil }
        let delimiter = Array("--\(boundary)".utf8)
        var pairs: [(String, String)] = []
        var position = 0
        guard let first = Self.find(delimiter, in: body, from: 0) else { return nil }
        position = first + delimiter.count
        while position + 2 <= body.count {
            if body[position] == UInt8(ascii: "-"), body[position + 1] == UInt8(ascii: "-") { break }  // closing delimiter
            position += 2  // CRLF after the delimiter
            guard let headEnd = Self.find(Array("\r\n\r\n".utf8), in: body, from: position),
                  let next = Self.find(Array("\r\n".utf8) + delimiter, in: body, from: headEnd + 4) else { return nil }
            let head = String(decoding: body[position..<headEnd], as: UTF8.self)
            let content = Array(body[(headEnd + 4)..<next])
            position = next + 2 + delimiter.count
            guard let disposition = head.split(separator: "\r\n").first(where: {
                $0.lowercased().hasPrefix("content-disposition:")
            }), let name = Self.parameter("name", in: disposition) else { continue }
            if let filename = Self.parameter("filename", in: disposition) {
                files.append(File(field: name, filename: filename, bytes: content))
            } else {
                pairs.append((name, String(decoding: content, as: UTF8.self)))
            }
        }
        fields = FormData(pairs: pairs)
    }

    private static func parameter(_ name: String, in header: Substring) -> String? {
        for part in header.split(separator: ";") {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces) == name else { continue }
            return kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
