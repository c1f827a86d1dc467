import CZlib

/// gzip (RFC 1952) over zlib's deflate, fed piece by piece: output comes out as deflate
/// produces it, so a compressed stream never needs its whole input at once.
final class GzipStream {
    private var stream = z_stream()

    init(level: Int32 = 6) throws {
        // windowBits 15 + 16: deflate with a gzip header and trailer.
        let result = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                                   Int32(MemoryLayout<z_stream>.size))
        guard result == Z_OK else { throw GzipError(code: result) }
    }

    deinit { deflateEnd(&stream) }

    /// What deflate has ready after taking `input` (often nothing for small inputs).
    func compress(_ input: [UInt8]) throws -> [UInt8] { try run(input, flush: Z_NO_FLUSH) }

    /// The rest, and the gzip trailer.
    func finish() throws -> [UInt8] { try run([], flush: Z_FINISH) }

    private func run(_ input: [UInt8], flush: Int32) throws -> [UInt8] {
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try input.withUnsafeBufferPointer { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.avail_in = UInt32(source.count)
            while true {
                let (result, produced) = chunk.withUnsafeMutableBufferPointer { target -> (Int32, Int) in
                    stream.next_out = target.baseAddress
                    stream.avail_out = UInt32(target.count)
                    let result = deflate(&stream, flush)
                    return (result, target.count - Int(stream.avail_out))
                }
                guard result == Z_OK || result == Z_STREAM_END || result == Z_BUF_ERROR else { throw GzipError(code: result) }
                output += chunk[0..<produced]
                if flush == Z_FINISH ? result == Z_STREAM_END : (stream.avail_out != 0 && stream.avail_in == 0) { break }
            }
            stream.next_in = nil
        }
        return output
    }
}

struct GzipError: Error, CustomStringConvertible {
    var code: Int32
    var description: String { "zlib deflate failed (\(code))" }
}
