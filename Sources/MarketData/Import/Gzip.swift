// zlib through our own system-library target; this is the only file that imports it, at internal
// access, so no zlib type reaches MarketData's API.
internal import CScalperZlib
public import Foundation

/// Reads gzip files (RFC 1952) with zlib: header, deflate body, and the trailer's CRC-32 and size
/// are all checked, so a truncated or corrupted file is an error, never short data. Concatenated
/// members (what `cat a.gz b.gz` makes) are read one after the other.
public enum Gzip {
    /// Whether `data` starts with the gzip magic bytes.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1F && data[data.startIndex + 1] == 0x8B
    }

    /// The decompressed contents; `name` is used in errors.
    public static func decompress(_ data: Data, name: String) throws -> Data {
        func fail(_ why: String) -> ImportError { ImportError(file: name, reason: .badArchive("gzip: \(why)")) }
        guard isGzip(data) else { throw fail("no gzip header") }
        let input = [UInt8](data)
        var out = Data()
        var stream = z_stream()
        // 16 + 15: a gzip wrapper, a 32 KB window; zlib checks the header, CRC-32 and length.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw fail("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        try input.withUnsafeBufferPointer { source in
            var consumed = 0
            while consumed < source.count {
                stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress! + consumed)
                stream.avail_in = UInt32(source.count - consumed)
                var status: Int32 = Z_OK
                repeat {
                    status = chunk.withUnsafeMutableBufferPointer { buffer in
                        stream.next_out = buffer.baseAddress
                        stream.avail_out = UInt32(buffer.count)
                        return inflate(&stream, Z_NO_FLUSH)
                    }
                    let produced = chunk.count - Int(stream.avail_out)
                    out.append(contentsOf: chunk[0..<produced])
                    switch status {
                    case Z_OK, Z_STREAM_END: break
                    case Z_BUF_ERROR where stream.avail_in == 0: throw fail("the file ends inside the compressed data (truncated)")
                    case Z_DATA_ERROR:
                        let message = stream.msg.map { String(cString: $0) } ?? "corrupt data"
                        throw fail("\(message) (corrupted)")
                    default: throw fail("zlib error \(status)")
                    }
                    if status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0 {
                        throw fail("the file ends inside the compressed data (truncated)")
                    }
                } while status != Z_STREAM_END
                consumed = source.count - Int(stream.avail_in)
                // Another member follows, or padding zeros end the file.
                if consumed < source.count {
                    if source[consumed...].allSatisfy({ $0 == 0 }) { break }
                    guard inflateReset(&stream) == Z_OK else { throw fail("zlib could not restart") }
                }
            }
        }
        return out
    }
}
