// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Reading plain or gzip-compressed files (RFC 1952) into memory, through the system's zlib.
// A file is treated as gzip when it starts with the magic bytes 1f 8b, whatever its name.

import AngpixCore
import CAngpixZlib
import Foundation

/// Reads whole files, decompressing gzip transparently.
public enum CompressedFile {
    /// The bytes of `path`, decompressed if the file is gzip (concatenated members are supported).
    public static func read(path: String) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        guard bytes.count >= 2, bytes[0] == 0x1f, bytes[1] == 0x8b else { return Array(bytes) }
        return try gunzip(bytes, path: path)
    }

    /// Decompresses gzip data.
    public static func gunzip(_ input: UnsafeRawBufferPointer, path: String) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 32: automatic gzip/zlib header detection with the largest window.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ModelError.gzip(path: path, reason: "zlib could not be initialised")
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
                    let message = stream.msg.map { String(cString: $0) } ?? "corrupt data (zlib status \(status))"
                    throw ModelError.gzip(path: path, reason: message)
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
            if offset >= input.count {
                throw ModelError.gzip(path: path, reason: "unexpected end of file (truncated gzip data)")
            }
            if stream.avail_in == before && status == Z_BUF_ERROR {
                throw ModelError.gzip(path: path, reason: "corrupt data")
            }
        }
        return output
    }
}
