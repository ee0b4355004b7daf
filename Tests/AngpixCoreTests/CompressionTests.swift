// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of AngpixCompression: the Swift bzip2 decompressor on files made by the system `bzip2`
// command (bzip2 1.0.8: the format the EMDB's and mrcfile's .bz2 files have), on concatenated
// streams (pbzip2's output), and on damaged files (flipped bytes, truncation), which must fail
// with an error naming the file, never crash; gzip and the magic-byte detection.

import Foundation
import Testing
import AngpixCore
import AngpixCompression
import AngpixTestSupport

/// The system bzip2 command, where installed.
private let bzip2Command: String? = ["/usr/bin/bzip2", "/bin/bzip2"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Inputs of many shapes: empty, one byte, long runs (RLE1 and RUNA/RUNB), all 256 byte values,
/// random bytes over several 100k blocks, float32 map-like data.
private func samples() -> [(String, [UInt8])] {
    var rng = SplitMix64(seed: 15)
    var random = [UInt8](repeating: 0, count: 250_000)
    for i in random.indices { random[i] = UInt8(truncatingIfNeeded: rng.next()) }
    var map = [UInt8]()
    for k in 0..<40_000 {
        let v = Float(sin(Double(k) * 0.01)) * 3 + 300_000
        withUnsafeBytes(of: v.bitPattern.littleEndian) { map.append(contentsOf: $0) }
    }
    var runs = [UInt8]()
    for k in 0..<300 { runs.append(contentsOf: repeatElement(UInt8(k % 7), count: k % 13 == 0 ? 1000 : k % 6)) }
    return [
        ("empty", []),
        ("one byte", [42]),
        ("four equal bytes", [7, 7, 7, 7]),
        ("five equal bytes", [7, 7, 7, 7, 7]),
        ("runs", runs),
        ("zeros", [UInt8](repeating: 0, count: 300_000)),
        ("all byte values", (0..<4096).map { UInt8($0 % 256) }),
        ("random", random),
        ("float map", map),
        ("text", Array(String(repeating: "data_optics\nloop_\n_rlnImagePixelSize #1\n", count: 2000).utf8)),
    ]
}

private func compress(_ bytes: [UInt8], level: Int, in dir: TemporaryDirectory, name: String) throws -> [UInt8] {
    let path = dir.file(name)
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    let r = try runProcess(bzip2Command!, ["-f", "-\(level)", path])
    #expect(r.status == 0, "\(r.stderr)")
    return Array(try Data(contentsOf: URL(fileURLWithPath: path + ".bz2")))
}

private func bunzip(_ bytes: [UInt8], name: String = "test.bz2") throws -> [UInt8] {
    try bytes.withUnsafeBytes { try Bzip2.decompress($0, name: name) }
}

@Suite("bzip2 decompression")
struct Bzip2Tests {
    @Test("Files made by the system bzip2 command decompress to the original bytes (levels 1 and 9)")
    func roundTrip() throws {
        guard bzip2Command != nil else { print("bzip2 is not installed: bzip2 round trips skipped"); return }
        let dir = TemporaryDirectory("bzip2")
        for (name, bytes) in samples() {
            for level in [1, 9] {
                let compressed = try compress(bytes, level: level, in: dir, name: "\(level)-\(name.replacingOccurrences(of: " ", with: "_"))")
                #expect(try bunzip(compressed) == bytes, "\(name), level \(level)")
            }
        }
    }

    @Test("Concatenated streams (pbzip2, cat a.bz2 b.bz2) decompress to the concatenation")
    func concatenated() throws {
        guard bzip2Command != nil else { print("bzip2 is not installed: skipped"); return }
        let dir = TemporaryDirectory("bzip2cat")
        let a = Array("first stream ".utf8), b = [UInt8](repeating: 9, count: 1000)
        let ca = try compress(a, level: 9, in: dir, name: "a"), cb = try compress(b, level: 9, in: dir, name: "b")
        #expect(try bunzip(ca + cb) == a + b)
    }

    @Test("Damaged data (every 7th byte flipped in turn, truncations) fail with an error naming the file")
    func corrupted() throws {
        guard bzip2Command != nil else { print("bzip2 is not installed: skipped"); return }
        let dir = TemporaryDirectory("bzip2bad")
        let original = samples()[8].1
        let good = try compress(original, level: 9, in: dir, name: "map")
        var failures = 0, trials = 0, unnoticed = 0
        for position in stride(from: 4, to: good.count, by: 7) {
            var bad = good
            bad[position] ^= 0x55
            trials += 1
            do {
                let out = try bunzip(bad, name: "map.mrc.bz2")
                // A flip that goes unnoticed must leave the output right (bits the decoder does
                // not use: the last byte's padding, unused selectors).
                #expect(out == original)
                unnoticed += 1
            } catch let e as CompressionError {
                failures += 1
                #expect("\(e)".hasPrefix("map.mrc.bz2: cannot decompress (bzip2): "))
            }
        }
        #expect(failures + unnoticed == trials)
        #expect(failures >= trials * 9 / 10, "\(failures) of \(trials) damaged files detected")
        for length in [0, 3, 4, 10, good.count / 2, good.count - 1] {
            #expect(throws: CompressionError.self) { try bunzip(Array(good.prefix(length))) }
        }
        // A flipped bit in the block CRC itself is reported as a CRC mismatch.
        var crc = good
        crc[10] ^= 1
        do { _ = try bunzip(crc); Issue.record("CRC damage not detected") } catch {
            #expect("\(error)".contains("block CRC"))
        }
    }
}

@Suite("Compression detection")
struct CompressionDetectionTests {
    @Test("Formats are told by magic bytes, not by name")
    func magic() {
        func detect(_ b: [UInt8]) -> CompressionFormat? { b.withUnsafeBytes { CompressionFormat.detect($0) } }
        #expect(detect([0x1F, 0x8B, 8, 0]) == .gzip)
        #expect(detect(Array("BZh91AY&SY".utf8)) == .bzip2)
        #expect(detect(Array("BZh0".utf8)) == nil)
        #expect(detect([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) == .xz)
        #expect(detect([0x28, 0xB5, 0x2F, 0xFD]) == .zstd)
        #expect(detect([0x50, 0x4B, 0x03, 0x04]) == .zip)
        #expect(detect([64, 0, 0, 0]) == nil)
    }

    @Test("gzip files made by the system gzip decompress; a truncated one fails")
    func gzip() throws {
        let dir = TemporaryDirectory("gzip")
        let path = dir.write("a.txt", String(repeating: "angpix ", count: 5000))
        try runProcess("/bin/sh", ["-c", "gzip -k -f '\(path)'"])
        let bytes = try CompressedFile.read(path: path + ".gz")
        #expect(bytes == Array(String(repeating: "angpix ", count: 5000).utf8))
        let gz = Array(try Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
        #expect(throws: CompressionError.self) {
            try Array(gz.prefix(gz.count / 2)).withUnsafeBytes { try Gzip.decompress($0, name: "a.gz") }
        }
    }
}
