// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Hardening of the MRC readers: every prefix and many corruptions of small valid files give a
// clear MRCError or a correct map, never a crash, a hang or an attempt to allocate absurd memory.

import Testing
import Foundation
@testable import AngpixMRC
import AngpixCore
import AngpixTestSupport

@Suite struct MRCRobustnessTests {
    /// A small valid file of `mode` and byte order, and its bytes.
    static func sampleFile(_ dir: TemporaryDirectory, mode: MRCMode, order: MRCByteOrder, isStack: Bool) throws -> [UInt8] {
        let map = MRCMap(nx: 6, ny: 5, nz: 3, pixelSize: 1.25, data: (0..<90).map { Float(($0 * 37) % 23) - 7 })
        let path = dir.file("sample-\(mode.rawValue)-\(order.rawValue)-\(isStack).mrc")
        try MRCFile.write(map, to: path, policy: OutputPolicy(overwrite: true), isStack: isStack,
                          options: MRCWriteOptions(mode: mode, byteOrder: order))
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Expects `error` to be an MRCError whose one-line message names `path`.
    static func expectMRCErrorNaming(_ path: String, _ error: any Error, _ context: String,
                                     sourceLocation: SourceLocation = #_sourceLocation) {
        guard let e = error as? MRCError else {
            Issue.record("\(context): \(type(of: error)) instead of MRCError: \(error)", sourceLocation: sourceLocation)
            return
        }
        #expect(e.description.hasPrefix(path + ": "), "\(context): \(e)", sourceLocation: sourceLocation)
    }

    /// Reads `bytes` through every reader; each gives a correct result or throws an MRCError
    /// naming the file. `context` (the case, the seed) goes into every failure message.
    static func readAllWays(_ bytes: [UInt8], dir: TemporaryDirectory, context: String) {
        let path = dir.file("input.mrc")
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do {
            let map = try MRCFile.readMap(path: path)
            #expect(map.data.count == map.nx * map.ny * map.nz, "\(context)")
        } catch {
            expectMRCErrorNaming(path, error, "\(context), readMap")
        }
        do {
            _ = try MRCFile.readHeader(path: path)
        } catch {
            expectMRCErrorNaming(path, error, "\(context), readHeader")
        }
        do {
            // The validator reports problems instead of throwing on a readable file.
            let v = try MRCValidator.validate(path: path)
            #expect(v.path == path, "\(context)")
        } catch MRCError.notMRC(let p, _) {
            // An empty prefix is named as an empty file, not an MRC file (issue 15).
            #expect(p == path, "\(context)")
        } catch {
            Issue.record("\(context), validate: threw \(error)")
        }
        do {
            let stack = try MRCStackReader(path: path)
            if stack.count > 0 {
                do {
                    let image = try stack.image(stack.count - 1)
                    #expect(image.count == stack.nx * stack.ny, "\(context)")
                } catch {
                    expectMRCErrorNaming(path, error, "\(context), last image")
                }
            }
            let outside = #expect(throws: MRCError.self, "\(context)") { _ = try stack.image(stack.count) }
            #expect(outside == .imageOutOfRange(path: path, index: stack.count, count: stack.count), "\(context)")
        } catch {
            expectMRCErrorNaming(path, error, "\(context), MRCStackReader")
        }
    }

    @Test func everyPrefixOfEveryModeGivesAnErrorOrAMap() throws {
        let dir = TemporaryDirectory()
        let cases: [(MRCMode, MRCByteOrder)] = [(.float32, .little), (.int16, .big), (.float16, .little), (.int8, .big), (.uint16, .little)]
        for (mode, order) in cases {
            let bytes = try Self.sampleFile(dir, mode: mode, order: order, isStack: mode == .float32)
            // Every length through the header; within the voxels, every few bytes.
            let lengths = Array(stride(from: 0, through: 1100, by: mode == .float32 ? 1 : 4))
                + Array(stride(from: 1101, through: bytes.count, by: 5))
            for length in lengths {
                Self.readAllWays(Array(bytes[0..<length]), dir: dir, context: "mode \(mode.rawValue) \(order), first \(length) of \(bytes.count) bytes")
            }
        }
    }

    @Test func truncatedFileIsRefusedWithSizes() throws {
        let dir = TemporaryDirectory()
        let bytes = try Self.sampleFile(dir, mode: .float32, order: .little, isStack: false)
        let path = dir.file("truncated.mrc")
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes[0..<(bytes.count - 4)]))
        let e = #expect(throws: MRCError.self) { _ = try MRCFile.readMap(path: path) }
        #expect(e == .truncated(path: path, expected: bytes.count, actual: bytes.count - 4))
        #expect(e?.description == "\(path): truncated: the header describes \(bytes.count) bytes, the file has \(bytes.count - 4)")
    }

    @Test(arguments: [1, 2, 2026] as [UInt64])
    func corruptedHeadersGiveAnErrorOrAMap(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: seed)
        let base = try Self.sampleFile(dir, mode: .int16, order: .big, isStack: false)
        // The words that steer reading: sizes, mode, start, grid, cell, axes, ISPG, NSYMBT, stamp.
        let hot = Array(0..<100) + Array(208..<216)
        let awkward: [UInt32] = [0, 1, 0xFFFF_FFFF, 0x7FFF_FFFF, 0x8000_0000, 0x0000_8000, 101, 12, 1024, 0x4444]
        for iteration in 0..<500 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                if Bool.random(using: &rng) {
                    let word = (hot.randomElement(using: &rng)! / 4) * 4
                    var v = awkward.randomElement(using: &rng)!
                    withUnsafeBytes(of: &v) { for k in 0..<4 { bytes[word + k] = $0[k] } }
                } else {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            Self.readAllWays(bytes, dir: dir, context: "SplitMix64 seed \(seed), corruption \(iteration)")
        }
    }
}
