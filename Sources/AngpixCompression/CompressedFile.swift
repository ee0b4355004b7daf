// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Reading files that may be compressed: the format is told by the file's first bytes (its magic
// number), never by its name alone. gzip (1F 8B, RFC 1952) and bzip2 ("BZh1".."BZh9", bzip2 1.0)
// are decompressed — the two that Python's mrcfile opens and the EMDB distributes maps in (.map.gz);
// xz, Zstandard, zip, LZ4 and Unix compress are recognised by their magic numbers (xz-utils, RFC 8878,
// PKWARE APPNOTE, the LZ4 frame format, compress(1)) and named in the error, not decoded.

import AngpixCore

/// A compression format told by magic bytes.
public enum CompressionFormat: String, Sendable, Codable {
    case gzip, bzip2, xz, zstd, zip, lz4, compress

    /// Whether angpix decompresses this format.
    public var isSupported: Bool { self == .gzip || self == .bzip2 }

    /// The format whose magic number starts `bytes`, or nil for none.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> CompressionFormat? {
        func starts(_ magic: [UInt8]) -> Bool {
            bytes.count >= magic.count && Swift.zip(bytes, magic).allSatisfy { $0 == $1 }
        }
        if starts([0x1F, 0x8B]) { return .gzip }
        if starts([0x42, 0x5A, 0x68]), bytes.count >= 4, (0x31...0x39).contains(bytes[3]) { return .bzip2 }
        if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .xz }
        if starts([0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return .zip }
        if starts([0x04, 0x22, 0x4D, 0x18]) { return .lz4 }
        if starts([0x1F, 0x9D]) { return .compress }
        return nil
    }
}

/// Why compressed data could not be read.
public enum CompressionError: AngpixError, Equatable {
    /// The data are damaged or truncated.
    case corrupt(path: String, format: String, reason: String)
    /// A compression angpix recognises but does not decode.
    case unsupported(path: String, format: CompressionFormat)

    public var description: String {
        switch self {
        case .corrupt(let p, let format, let reason):
            return "\(p): cannot decompress (\(format)): \(reason)"
        case .unsupported(let p, let format):
            return "\(p): \(format.rawValue)-compressed; angpix reads gzip and bzip2 only: decompress it first"
        }
    }
}

/// Reads whole files, decompressing gzip and bzip2 transparently.
public enum CompressedFile {
    /// The bytes of `path`, decompressed if it is gzip or bzip2 (told by its first bytes).
    public static func read(path: String) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        guard let format = CompressionFormat.detect(file.bytes) else { return Array(file.bytes) }
        return try decompress(file.bytes, format: format, name: path)
    }

    /// The bytes of `path` as a MappedFile: the mapping itself when the file is not compressed,
    /// else the decompressed bytes in memory; and the compression found (nil for none).
    public static func open(path: String) throws -> (file: MappedFile, compression: CompressionFormat?) {
        let file = try MappedFile(path: path)
        guard let format = CompressionFormat.detect(file.bytes) else { return (file, nil) }
        let bytes = try decompress(file.bytes, format: format, name: path)
        return (MappedFile(path: path, contents: bytes), format)
    }

    /// Decompresses `bytes` in `format`.
    public static func decompress(_ bytes: UnsafeRawBufferPointer, format: CompressionFormat, name: String) throws -> [UInt8] {
        switch format {
        case .gzip: return try Gzip.decompress(bytes, name: name)
        case .bzip2: return try Bzip2.decompress(bytes, name: name)
        default: throw CompressionError.unsupported(path: name, format: format)
        }
    }
}
