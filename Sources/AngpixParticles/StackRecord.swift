// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The resume rule. Every rescaled stack OUT.mrcs gets a small record beside it,
// OUT.mrcs.angpix.json, written (atomically) only after the stack itself was committed. A rerun
// skips a stack, without reading its source, only if all of these hold:
//   1. the record exists and names the same source (canonical path, byte size, modification time)
//      and the same rescale (images, box, pixel size reached);
//   2. the stack's byte size is the one recorded, and its MRC header says box × box × images at
//      the pixel size reached;
//   3. a 64-bit checksum of the stack's image data (recomputed by reading the stack back) equals the
//      recorded one.
// Anything else (no record, another source, a truncated or altered stack) means the stack is
// rescaled again. Stacks are written through a temporary file renamed at the end, so an interrupted
// run leaves either the old complete stack or none, never a partial one under the final name.

import Foundation
import AngpixCore

/// What the record beside a rescaled stack says about it.
public struct StackRecord: Codable, Equatable, Sendable {
    public var format: String = "angpix-rescaled-stack-1"
    /// The source stack (canonical path), its byte size and modification time (seconds since 1970).
    public var source: String
    public var sourceBytes: Int64
    public var sourceModified: Double
    /// The source's box and pixel size (Å) as used.
    public var sourceBox: Int
    public var sourcePixelSize: Double
    /// The rescaled stack: images, box, pixel size reached (Å), byte size, data checksum (hex).
    public var images: Int
    public var box: Int
    public var pixelSize: Double
    public var bytes: Int64
    public var checksum: String

    /// The path of the record of `stackPath`.
    public static func path(for stackPath: String) -> String { stackPath + ".angpix.json" }

    /// Reads a record; nil if it is missing or unreadable.
    public static func read(stackPath: String) -> StackRecord? {
        guard let data = FileManager.default.contents(atPath: path(for: stackPath)) else { return nil }
        return try? JSONDecoder().decode(StackRecord.self, from: data)
    }

    /// Writes the record atomically.
    public func write(stackPath: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeFileAtomically(try encoder.encode(self) + Data("\n".utf8), to: StackRecord.path(for: stackPath),
                                policy: OutputPolicy(overwrite: true))
    }
}

/// Size and modification time of a file, or nil if it does not exist.
func fileIdentity(_ path: String) -> (bytes: Int64, modified: Double)? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) * 1e-9
    return (Int64(info.st_size), modified)
}

/// A 64-bit checksum of image data, fed one image at a time (each a whole number of 8-byte words).
///
/// Four independent multiply-rotate lanes per image (fast enough to re-read GB of stacks), the
/// image hashes chained in order. Not cryptographic: it detects truncation, corruption and
/// mix-ups, not tampering.
public struct ImageDataChecksum: Sendable {
    private var state: UInt64 = 0x9E37_79B9_7F4A_7C15

    public init() {}

    /// Adds one image's bytes.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        let words = bytes.count / 8
        var a: UInt64 = 0x243F_6A88_85A3_08D3, b: UInt64 = 0x1319_8A2E_0370_7344
        var c: UInt64 = 0xA409_3822_299F_31D0, d: UInt64 = 0x082E_FA98_EC4E_6C89
        let p1: UInt64 = 0x9E37_79B1_85EB_CA87, p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
        var i = 0
        while i + 4 <= words {
            let w0 = bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
            let w1 = bytes.loadUnaligned(fromByteOffset: 8 * i + 8, as: UInt64.self)
            let w2 = bytes.loadUnaligned(fromByteOffset: 8 * i + 16, as: UInt64.self)
            let w3 = bytes.loadUnaligned(fromByteOffset: 8 * i + 24, as: UInt64.self)
            a = ((a ^ w0) &* p1).rotl(31); b = ((b ^ w1) &* p1).rotl(31)
            c = ((c ^ w2) &* p1).rotl(31); d = ((d ^ w3) &* p1).rotl(31)
            i += 4
        }
        while i < words {
            a = ((a ^ bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) &* p2).rotl(29)
            i += 1
        }
        var tail: UInt64 = 0
        for k in (8 * words)..<bytes.count { tail = (tail << 8) | UInt64(bytes[k]) }
        var h = a.rotl(1) &+ b.rotl(7) &+ c.rotl(12) &+ d.rotl(18) &+ UInt64(bytes.count) ^ tail
        h = (h ^ (h >> 33)) &* p2
        state = ((state ^ h) &* p1).rotl(27) &+ 0x52DC_E729
    }

    /// The checksum as 16 hexadecimal digits.
    public var hex: String {
        let s = String(state, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// The checksum of the last `images` images of `imageBytes` each in a file (the data section
    /// of an MRC stack sits at its end).
    public static func ofFileTail(path: String, images: Int, imageBytes: Int) throws -> String {
        let file = try MappedFile(path: path)
        let total = images * imageBytes
        var sum = ImageDataChecksum()
        if total == 0 { return sum.hex }
        guard file.count >= total else {
            throw CoreError.cannotRead(path: path, reason: "shorter than its data")
        }
        let base = file.bytes.baseAddress!
        let start = file.count - total
        for n in 0..<images {
            sum.add(UnsafeRawBufferPointer(start: base + start + n * imageBytes, count: imageBytes))
        }
        return sum.hex
    }
}

extension UInt64 {
    @inline(__always) fileprivate func rotl(_ r: UInt64) -> UInt64 { (self << r) | (self >> (64 - r)) }
}
