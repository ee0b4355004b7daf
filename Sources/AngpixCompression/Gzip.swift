// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Decompressing gzip data (RFC 1952; zlib's inflate with automatic header detection), through the
// system's zlib (module CAngpixZlib). Concatenated members (pigz, `cat a.gz b.gz`) are read.

import CAngpixZlib

/// Decompresses gzip data.
public enum Gzip {
    /// The decompressed bytes of `input`; `name` names the data in errors.
    public static func decompress(_ input: UnsafeRawBufferPointer, name: String) throws -> [UInt8] {
        func fail(_ reason: String) -> CompressionError { .corrupt(path: name, format: "gzip", reason: reason) }
        guard input.count > 0 else { throw fail("no data") }
        var stream = z_stream()
        // 15 + 32: automatic gzip/zlib header detection with the largest window.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw fail("zlib could not be initialised")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(input.count * 4)
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        var offset = 0
        while true {
            let remaining = input.count - offset
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self))
            stream.avail_in = UInt32(min(remaining, Int(UInt32.max)))
            let before = stream.avail_in
            var status: Int32 = Z_OK
            repeat {
                let produced: Int = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(chunk)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunk - Int(stream.avail_out)
                }
                if status != Z_OK && status != Z_STREAM_END && status != Z_BUF_ERROR {
                    throw fail(stream.msg.map { String(cString: $0) } ?? "corrupt data (zlib status \(status))")
                }
                output.append(contentsOf: buffer[0..<produced])
                if status == Z_BUF_ERROR && produced == 0 { break }
            } while status != Z_STREAM_END && stream.avail_out == 0
            offset += Int(before - stream.avail_in)
            if status == Z_STREAM_END {
                // Another gzip member may follow (concatenated .gz files).
                if offset < input.count, input[offset] == 0x1f {
                    inflateReset(&stream)
                    continue
                }
                break
            }
            if offset >= input.count { throw fail("unexpected end of file (truncated gzip data)") }
            if stream.avail_in == before && status == Z_BUF_ERROR { throw fail("corrupt data") }
        }
        return output
    }
}
