// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of two MRC2014 corners: files stored with a permuted axis order (MAPC MAPR MAPS other than
// 1 2 3), read back in x, y, z order; and mode 0 bytes, signed unless IMOD's stamp says unsigned.
// The files are built by hand (AngpixTestSupport.RawMRC), not by angpix's writer.

import Foundation
import Testing
import AngpixCore
import AngpixMRC
import AngpixTestSupport

/// A 6 × 7 × 8 volume whose voxels all differ (value = x + 10 y + 100 z + 0.5).
private func distinctVolume(nx: Int = 6, ny: Int = 7, nz: Int = 8) -> MRCMap {
    var m = MRCMap(nx: nx, ny: ny, nz: nz, pixelSize: 1.7)
    for z in 0..<nz { for y in 0..<ny { for x in 0..<nx { m[x, y, z] = Float(x + 10 * y + 100 * z) + 0.5 } } }
    return m
}

@Suite struct MRCAxisOrderTests {
    @Test(arguments: 0..<6, [false, true])
    func testPermutedVolumeIsReadInXYZOrder(order: Int, bigEndian: Bool) throws {
        let dir = TemporaryDirectory()
        let map = distinctVolume()
        let axes = RawMRC.allAxisOrders[order]
        let path = dir.file("p.mrc")
        RawMRC.permutedVolume(map.data, nx: map.nx, ny: map.ny, nz: map.nz, pixelSize: 1.7, axes: axes,
                              start: (-3, -4, -5), bigEndian: bigEndian).write(to: path)
        let h = try MRCFile.readHeader(path: path)
        #expect(h.mapc == axes.0 && h.mapr == axes.1 && h.maps == axes.2)
        let read = try MRCFile.readMap(path: path)
        #expect(read.nx == 6 && read.ny == 7 && read.nz == 8)
        #expect(abs(read.pixelSize - 1.7) < 1e-5)
        #expect(read.start == MRCTriple(-3, -4, -5))
        var wrong = 0
        for z in 0..<8 { for y in 0..<7 { for x in 0..<6 where read[x, y, z] != map[x, y, z] { wrong += 1 } } }
        #expect(wrong == 0, "\(wrong) voxels differ for axis order \(axes)")
    }

    @Test func testPermutedSizesAreStoredPerColumnRowSection() throws {
        // MAPC 3 MAPR 1 MAPS 2: columns run along z (8), rows along x (6), sections along y (7).
        let dir = TemporaryDirectory()
        let map = distinctVolume()
        let path = dir.file("p.mrc")
        RawMRC.permutedVolume(map.data, nx: 6, ny: 7, nz: 8, pixelSize: 1.7, axes: (3, 1, 2)).write(to: path)
        let h = try MRCFile.readHeader(path: path)
        #expect(h.nx == 8 && h.ny == 6 && h.nz == 7)
        #expect(h.mapSize == MRCTriple(6, 7, 8))
        // The first stored voxel is (x 0, y 0, z 0), the second (column 1) is z = 1.
        let read = try MRCFile.readMap(path: path)
        #expect(read.data[0] == map[0, 0, 0])
        #expect(read[0, 0, 1] == Float(100) + 0.5)
    }

    @Test func testWritingAPermutedMapUsesTheStandardOrder() throws {
        let dir = TemporaryDirectory()
        let map = distinctVolume()
        let input = dir.file("p.mrc"), output = dir.file("w.mrc")
        RawMRC.permutedVolume(map.data, nx: 6, ny: 7, nz: 8, pixelSize: 1.7, axes: (2, 3, 1)).write(to: input)
        try MRCFile.write(try MRCFile.readMap(path: input), to: output, policy: OutputPolicy())
        let h = try MRCFile.readHeader(path: output)
        #expect(h.mapc == 1 && h.mapr == 2 && h.maps == 3)
        #expect(h.nx == 6 && h.ny == 7 && h.nz == 8 && h.mx == 6 && h.my == 7 && h.mz == 8)
        #expect(try MRCFile.readMap(path: output).data == map.data)
    }

    @Test func testSetPixelSizeOnAPermutedHeaderSamplesAlongXYZ() throws {
        let dir = TemporaryDirectory()
        let map = distinctVolume()
        let input = dir.file("p.mrc"), output = dir.file("s.mrc")
        RawMRC.permutedVolume(map.data, nx: 6, ny: 7, nz: 8, pixelSize: 1.7, axes: (3, 1, 2)).write(to: input)
        try MRCFile.rewriteHeader(input: input, output: output, policy: OutputPolicy()) { $0.setPixelSize(1.25) }
        let h = try MRCFile.readHeader(path: output)
        #expect(h.mapc == 3 && h.mapr == 1 && h.maps == 2)
        #expect(h.mx == 6 && h.my == 7 && h.mz == 8)
        #expect(abs(h.voxelSize.x - 1.25) < 1e-6 && abs(h.voxelSize.y - 1.25) < 1e-6 && abs(h.voxelSize.z - 1.25) < 1e-6)
        #expect(try MRCFile.readMap(path: output).data == map.data)
    }

    @Test func testAxisOrderThatIsNotAPermutationIsAnError() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("bad.mrc")
        var raw = RawMRC.permutedVolume(distinctVolume().data, nx: 6, ny: 7, nz: 8, pixelSize: 1, axes: (1, 2, 3))
        raw.axes = (1, 1, 3)
        raw.write(to: path)
        #expect(throws: MRCError.badAxisOrder(path: path, mapc: 1, mapr: 1, maps: 3)) { try MRCFile.readMap(path: path) }
        let v = try MRCValidator.validate(path: path)
        #expect(v.problems.contains { $0.severity == .error && $0.message.contains("1 1 3") })
        // 0 0 0 (never set) is read as 1 2 3.
        raw.axes = (0, 0, 0)
        raw.write(to: path)
        #expect(try MRCFile.readMap(path: path).data == distinctVolume().data)
    }

    @Test func testValidatorWarnsAboutAPermutedVolume() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("p.mrc")
        RawMRC.permutedVolume(distinctVolume().data, nx: 6, ny: 7, nz: 8, pixelSize: 1, axes: (2, 1, 3)).write(to: path)
        let v = try MRCValidator.validate(path: path)
        #expect(v.problems.contains { $0.severity == .warning && $0.message.contains("2 1 3") && $0.message.contains("6 × 7 × 8") })
        #expect(!v.problems.contains { $0.severity == .error })
    }

    @Test func testPermutedImageStackIsRefusedNamingFileAndOrder() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("p.mrcs")
        // Four 5 × 6 images, rows and columns swapped (MAPC 2 MAPR 1 MAPS 3), ISPG 0, MZ 1.
        var raw = RawMRC.permutedVolume((0..<120).map(Float.init), nx: 5, ny: 6, nz: 4, pixelSize: 1, axes: (2, 1, 3))
        raw.ispg = 0; raw.m = (5, 6, 1); raw.cella = (5, 6, 1)
        raw.write(to: path)
        #expect(throws: MRCError.stackAxisOrder(path: path, mapc: 2, mapr: 1, maps: 3)) { try MRCStackReader(path: path) }
        let message = MRCError.stackAxisOrder(path: path, mapc: 2, mapr: 1, maps: 3).description
        #expect(message.hasPrefix(path) && message.contains("2 1 3"))
        // The standard order is read.
        raw = RawMRC.permutedVolume((0..<120).map(Float.init), nx: 5, ny: 6, nz: 4, pixelSize: 1, axes: (1, 2, 3))
        raw.ispg = 0; raw.m = (5, 6, 1); raw.cella = (5, 6, 1)
        raw.write(to: path)
        #expect(try MRCStackReader(path: path).image(2) == (60..<90).map(Float.init))
    }
}

@Suite struct MRCMode0SignednessTests {
    /// A 4 × 1 × 1 mode-0 file holding the bytes 200, 0, 127, 255.
    private func byteFile(_ path: String, stamp: Int32, flags: Int32, bigEndian: Bool = false,
                          dmin: Float = 0, dmax: Float = -1) {
        var raw = RawMRC(n: (4, 1, 1), m: (4, 1, 1), cella: (4, 1, 1))
        raw.mode = 0; raw.ispg = 0
        raw.imodStamp = stamp; raw.imodFlags = flags; raw.bigEndian = bigEndian
        raw.dmin = dmin; raw.dmax = dmax
        raw.data = [200, 0, 127, 255]
        raw.write(to: path)
    }

    @Test(arguments: [false, true])
    func testMode0IsSignedWithoutTheIMODStamp(bigEndian: Bool) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("b.mrc")
        byteFile(path, stamp: 0, flags: 0, bigEndian: bigEndian)
        #expect(try MRCFile.readMap(path: path).data == [-56, 0, 127, -1])
        #expect(try MRCFile.readHeader(path: path).byteInterpretation == "signed (MRC2014; no IMOD stamp)")
    }

    @Test(arguments: [false, true])
    func testMode0IsUnsignedWithTheIMODStampAndSignedFlagClear(bigEndian: Bool) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("b.mrc")
        byteFile(path, stamp: MRCHeader.imodStampValue, flags: 0b10, bigEndian: bigEndian)   // other bits set, bit 0 clear
        let h = try MRCFile.readHeader(path: path)
        #expect(h.imodStamp == 1146047817 && h.bytesAreUnsigned)
        #expect(try MRCFile.readMap(path: path).data == [200, 0, 127, 255])
        #expect(h.byteInterpretation == "unsigned (IMOD stamp, signed flag clear)")
    }

    @Test func testMode0IsSignedWithTheIMODStampAndSignedFlagSet() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("b.mrc")
        byteFile(path, stamp: MRCHeader.imodStampValue, flags: 1)
        #expect(try MRCFile.readMap(path: path).data == [-56, 0, 127, -1])
        #expect(try MRCFile.readHeader(path: path).byteInterpretation == "signed (IMOD stamp, signed flag set)")
    }

    @Test func testTheFlagsMatterOnlyForMode0() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.mrc")
        var raw = RawMRC(n: (2, 1, 1), m: (2, 1, 1), cella: (2, 1, 1))
        raw.mode = 1; raw.ispg = 0; raw.imodStamp = MRCHeader.imodStampValue; raw.imodFlags = 0
        raw.data = [0x38, 0xFF, 0x05, 0x00]   // int16 little-endian: -200, 5
        raw.write(to: path)
        #expect(try MRCFile.readMap(path: path).data == [-200, 5])
        #expect(try MRCFile.readHeader(path: path).byteInterpretation == nil)
    }

    @Test func testStackReaderAndStatisticsUseTheSameInterpretation() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("b.mrcs")
        byteFile(path, stamp: MRCHeader.imodStampValue, flags: 0)
        #expect(try MRCStackReader(path: path).image(0) == [200, 0, 127, 255])
        let stats = try #require(try MRCValidator.validate(path: path).statistics)
        #expect(stats.min == 0 && stats.max == 255)
    }

    @Test func testSetPixelSizeKeepsTheIMODFlags() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("b.mrc"), output = dir.file("c.mrc")
        byteFile(input, stamp: MRCHeader.imodStampValue, flags: 0, bigEndian: true)
        try MRCFile.rewriteHeader(input: input, output: output, policy: OutputPolicy()) { $0.setPixelSize(2.5) }
        #expect(try MRCFile.readMap(path: output).data == [200, 0, 127, 255])
        #expect(abs(try MRCFile.readHeader(path: output).pixelSize - 2.5) < 1e-6)
    }

    @Test func testValidatorWarnsWhenAnUnstampedHeaderLooksUnsigned() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("b.mrc")
        byteFile(path, stamp: 0, flags: 0, dmin: 0, dmax: 255)
        let v = try MRCValidator.validate(path: path)
        #expect(v.problems.contains { $0.severity == .warning && $0.message.contains("unsigned bytes") })
        byteFile(path, stamp: 0, flags: 0, dmin: -56, dmax: 127)
        #expect(!(try MRCValidator.validate(path: path)).problems.contains { $0.message.contains("unsigned bytes") })
    }
}
