// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of MRC2014 reading and writing: every mode, both byte orders, stacks, headers written by
// RELION, and the errors for broken files.

import Foundation
import Testing
import AngpixCore
import AngpixMRC
import AngpixTestSupport

/// A small test volume with values that every mode can hold exactly (integers 0...15).
func smallIntegerMap(nx: Int = 5, ny: Int = 4, nz: Int = 3, pixelSize: Double = 1.25) -> MRCMap {
    var m = MRCMap(nx: nx, ny: ny, nz: nz, pixelSize: pixelSize)
    for i in 0..<m.count { m.data[i] = Float((i * 7 + 3) % 16) }
    return m
}

/// A random volume with values of both signs.
func randomMap(nx: Int, ny: Int, nz: Int, pixelSize: Double, seed: UInt64 = 1) -> MRCMap {
    var g = SplitMix64(seed: seed)
    var m = MRCMap(nx: nx, ny: ny, nz: nz, pixelSize: pixelSize)
    for i in 0..<m.count { m.data[i] = Float(g.unit() * 2 - 1) }
    return m
}

/// Writes raw bytes to a file.
func writeBytes(_ bytes: [UInt8], to path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

func readBytes(_ path: String) -> [UInt8] {
    [UInt8](FileManager.default.contents(atPath: path) ?? Data())
}

@Suite struct MRCRoundTripTests {
    @Test(arguments: [MRCMode.int8, .int16, .float32, .uint16, .float16], [MRCByteOrder.little, .big])
    func testEveryModeAndByteOrderRoundTrips(mode: MRCMode, order: MRCByteOrder) throws {
        let dir = TemporaryDirectory()
        let map = smallIntegerMap()
        let path = dir.file("m.mrc")
        try MRCFile.write(map, to: path, policy: OutputPolicy(), options: MRCWriteOptions(mode: mode, byteOrder: order))
        let h = try MRCFile.readHeader(path: path)
        #expect(h.mode == mode)
        #expect(h.byteOrder == order)
        #expect(h.machineStampValid)
        #expect(h.hasMapWord)
        #expect(h.nx == 5 && h.ny == 4 && h.nz == 3)
        #expect(abs(h.pixelSize - 1.25) < 1e-6)
        #expect(h.ispg == 1)
        #expect(h.nversion == 20140)
        let back = try MRCFile.readMap(path: path)
        #expect(back.data == map.data)
        #expect(back.pixelSize == map.pixelSize)
        // The file is exactly header + data.
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(size == 1024 + map.count * mode.bytesPerRow(2) / 2)
        // The byte order shows in the machine stamp.
        let bytes = readBytes(path)
        #expect(bytes[212] == (order == .little ? 0x44 : 0x11))
        #expect(try MRCValidator.validate(path: path).problems == [])
    }

    @Test func testIntegerModesRoundAndClamp() throws {
        let dir = TemporaryDirectory()
        let map = MRCMap(nx: 4, ny: 1, nz: 1, pixelSize: 1, data: [-300.4, 2.6, 70000, -1.2])
        try MRCFile.write(map, to: dir.file("i8.mrc"), policy: OutputPolicy(), options: MRCWriteOptions(mode: .int8))
        #expect(try MRCFile.readMap(path: dir.file("i8.mrc")).data == [-128, 3, 127, -1])
        try MRCFile.write(map, to: dir.file("u16.mrc"), policy: OutputPolicy(), options: MRCWriteOptions(mode: .uint16))
        #expect(try MRCFile.readMap(path: dir.file("u16.mrc")).data == [0, 3, 65535, 0])
        try MRCFile.write(map, to: dir.file("i16.mrc"), policy: OutputPolicy(), options: MRCWriteOptions(mode: .int16))
        #expect(try MRCFile.readMap(path: dir.file("i16.mrc")).data == [-300, 3, 32767, -1])
    }

    @Test func testFloat32HeaderHoldsStatisticsAndMapWord() throws {
        let dir = TemporaryDirectory()
        let map = randomMap(nx: 16, ny: 16, nz: 16, pixelSize: 0.83)
        let path = dir.file("r.mrc")
        try MRCFile.write(map, to: path, policy: OutputPolicy())
        let h = try MRCFile.readHeader(path: path)
        let lo = map.data.min()!, hi = map.data.max()!
        let mean = map.data.reduce(0.0) { $0 + Double($1) } / Double(map.count)
        let sd = (map.data.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(map.count)).squareRoot()
        #expect(h.dmin == lo && h.dmax == hi)
        #expect(abs(Double(h.dmean) - mean) < 1e-5)
        #expect(abs(Double(h.rms) - sd) < 1e-5)
        #expect(h.mx == 16 && h.mz == 16)
        #expect(abs(Double(h.cella.x) - 16 * 0.83) < 1e-4)
        #expect(String(decoding: readBytes(path)[208..<212], as: UTF8.self) == "MAP ")
        #expect(try MRCFile.readMap(path: path).data == map.data)
    }

    @Test func testOriginAndStartAreKept() throws {
        let dir = TemporaryDirectory()
        var map = smallIntegerMap()
        map.origin = MRCTriple(1.5, -2, 3)
        map.start = MRCTriple(-2, -2, -1)
        try MRCFile.write(map, to: dir.file("o.mrc"), policy: OutputPolicy())
        let back = try MRCFile.readMap(path: dir.file("o.mrc"))
        #expect(back.origin == map.origin)
        #expect(back.start == map.start)
    }

    @Test func testMode101IsReadWithRowsPaddedToBytes() throws {
        // 3 × 2 × 1 voxels, 4-bit: each row is 2 bytes, low nibble first.
        var h = MRCHeader()
        h.nx = 3; h.ny = 2; h.nz = 1; h.modeRaw = 101
        h.ispg = 0; h.setPixelSize(2)
        let dir = TemporaryDirectory()
        let path = dir.file("four.mrc")
        writeBytes(h.encoded() + [0x21, 0x03, 0xBA, 0x0C], to: path)
        let m = try MRCFile.readMap(path: path)
        #expect(m.data == [1, 2, 3, 10, 11, 12])
        #expect(m.pixelSize == 2)
        #expect(throws: MRCError.unsupportedWriteMode(path: dir.file("w.mrc"), mode: 101)) {
            try MRCFile.write(m, to: dir.file("w.mrc"), policy: OutputPolicy(), options: MRCWriteOptions(mode: .uint4))
        }
    }

    @Test func testExtendedHeaderIsSkippedByNSYMBT() throws {
        var h = MRCHeader()
        h.nx = 2; h.ny = 2; h.nz = 1; h.modeRaw = 2; h.nsymbt = 130; h.exttyp = "FEI1"
        h.setPixelSize(1.1)
        var bytes = h.encoded() + [UInt8](repeating: 0xEE, count: 130)
        for v: Float in [1, 2, 3, 4] { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        let dir = TemporaryDirectory()
        writeBytes(bytes, to: dir.file("ext.mrc"))
        let m = try MRCFile.readMap(path: dir.file("ext.mrc"))
        #expect(m.data == [1, 2, 3, 4])
        let back = try MRCFile.readHeader(path: dir.file("ext.mrc"))
        #expect(back.exttyp == "FEI1")
        #expect(back.nsymbt == 130)
    }

    @Test func testBigEndianFileWithoutMachineStampIsGuessed() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("be.mrc")
        try MRCFile.write(smallIntegerMap(), to: path, policy: OutputPolicy(), options: MRCWriteOptions(byteOrder: .big))
        var bytes = readBytes(path)
        bytes[212] = 0; bytes[213] = 0
        writeBytes(bytes, to: path)
        let m = try MRCFile.readMap(path: path)
        #expect(m.data == smallIntegerMap().data)
        let v = try MRCValidator.validate(path: path)
        #expect(v.problems.contains { $0.message.contains("machine stamp") })
    }
}

@Suite struct MRCStackTests {
    @Test func testStackWriterWritesARelionStyleStack() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("p.mrcs")
        let w = try MRCStackWriter(path: path, nx: 6, ny: 4, pixelSize: 1.06, policy: OutputPolicy())
        var all: [Float] = []
        for i in 0..<7 {
            let img = (0..<24).map { Float(i * 100 + $0) }
            all += img
            try w.append(img)
        }
        // Nothing at the destination before commit.
        #expect(!FileManager.default.fileExists(atPath: path))
        try w.commit()
        let h = try MRCFile.readHeader(path: path)
        #expect(h.nx == 6 && h.ny == 4 && h.nz == 7)
        #expect(h.ispg == 0 && h.mz == 1)
        #expect(abs(h.pixelSize - 1.06) < 1e-6)
        #expect(h.dmin == 0 && h.dmax == 623)
        let r = try MRCStackReader(path: path)
        #expect(r.count == 7 && r.nx == 6 && r.ny == 4)
        #expect(try r.image(3) == Array(all[72..<96]))
        #expect(try MRCFile.readMap(path: path).data == all)
        #expect(throws: MRCError.imageOutOfRange(path: path, index: 7, count: 7)) { try r.image(7) }
        #expect(try MRCValidator.validate(path: path).problems == [])
        #expect(dir.listing() == ["p.mrcs"])
    }

    @Test func testStackWriterDroppedLeavesNothing() throws {
        let dir = TemporaryDirectory()
        do {
            let w = try MRCStackWriter(path: dir.file("x.mrcs"), nx: 2, ny: 2, pixelSize: 1, policy: OutputPolicy())
            try w.append([1, 2, 3, 4])
            #expect(throws: MRCError.wrongImageSize(path: dir.file("x.mrcs"), expected: 4, actual: 3)) { try w.append([1, 2, 3]) }
        }
        #expect(dir.listing() == [])
    }

    @Test func testStackWriteMarksIspg0AndMz1() throws {
        let dir = TemporaryDirectory()
        try MRCFile.write(smallIntegerMap(), to: dir.file("s.mrcs"), policy: OutputPolicy(), isStack: true)
        let h = try MRCFile.readHeader(path: dir.file("s.mrcs"))
        #expect(h.ispg == 0 && h.mz == 1 && h.isImageStack)
        #expect(abs(h.pixelSize - 1.25) < 1e-6)
    }
}

@Suite struct MRCBadInputTests {
    @Test func testTruncatedFileIsAnErrorNamingTheFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("t.mrc")
        try MRCFile.write(smallIntegerMap(), to: path, policy: OutputPolicy())
        let bytes = readBytes(path)
        writeBytes(Array(bytes.dropLast(10)), to: path)
        #expect(throws: MRCError.truncated(path: path, expected: 1024 + 240, actual: 1024 + 230)) {
            try MRCFile.readMap(path: path)
        }
        let err = #expect(throws: MRCError.self) { try MRCStackReader(path: path) }
        #expect(err?.description.hasPrefix(path + ": ") == true, "\(String(describing: err))")
    }

    @Test func testFileLongerThanHeaderSaysIsAnError() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("l.mrc")
        try MRCFile.write(smallIntegerMap(), to: path, policy: OutputPolicy())
        writeBytes(readBytes(path) + [0, 0, 0, 0], to: path)
        #expect(throws: MRCError.sizeMismatch(path: path, expected: 1264, actual: 1268)) { try MRCFile.readMap(path: path) }
        let v = try MRCValidator.validate(path: path)
        #expect(v.problems.contains { $0.severity == .error && $0.message.contains("the file has 1268") })
    }

    @Test func testUnknownModeIsAnError() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("u.mrc")
        try MRCFile.write(smallIntegerMap(), to: path, policy: OutputPolicy())
        var bytes = readBytes(path)
        bytes[12] = 7
        writeBytes(bytes, to: path)
        #expect(throws: MRCError.unknownMode(path: path, mode: 7)) { try MRCFile.readMap(path: path) }
        #expect(try MRCValidator.validate(path: path).problems.contains { $0.message == "unknown mode 7" })
    }

    @Test func testShortFileAndMissingFile() throws {
        let dir = TemporaryDirectory()
        writeBytes([1, 2, 3], to: dir.file("short.mrc"))
        #expect(throws: MRCError.tooShortForHeader(path: dir.file("short.mrc"), size: 3)) {
            try MRCFile.readHeader(path: dir.file("short.mrc"))
        }
        #expect(throws: CoreError.fileNotFound(path: dir.file("none.mrc"))) { try MRCFile.readMap(path: dir.file("none.mrc")) }
    }

    @Test func testZeroDimensionIsAnError() throws {
        var h = MRCHeader()
        h.nx = 0; h.ny = 2; h.nz = 1
        let dir = TemporaryDirectory()
        writeBytes(h.encoded(), to: dir.file("z.mrc"))
        #expect(throws: MRCError.badDimensions(path: dir.file("z.mrc"), nx: 0, ny: 2, nz: 1)) {
            try MRCFile.readMap(path: dir.file("z.mrc"))
        }
    }

    @Test func testWriteRefusesToOverwriteWithoutForce() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("a.mrc")
        try MRCFile.write(smallIntegerMap(), to: path, policy: OutputPolicy())
        #expect(throws: CoreError.outputExists(path: path)) { try MRCFile.write(smallIntegerMap(), to: path, policy: OutputPolicy()) }
        try MRCFile.write(smallIntegerMap(pixelSize: 2), to: path, policy: OutputPolicy(overwrite: true))
        #expect(try MRCFile.readMap(path: path).pixelSize == 2)
        #expect(dir.listing() == ["a.mrc"])
    }
}

@Suite struct MRCValidationTests {
    @Test func testNaNVoxelSizeZeroAndMissingMapWordAreReported() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("v.mrc")
        var map = smallIntegerMap()
        map.data[5] = .nan
        map.data[6] = .infinity
        try MRCFile.write(map, to: path, policy: OutputPolicy())
        var bytes = readBytes(path)
        for k in 40..<52 { bytes[k] = 0 }        // CELLA = 0: voxel size 0
        for k in 208..<212 { bytes[k] = 0 }      // no MAP word
        writeBytes(bytes, to: path)
        let v = try MRCValidator.validate(path: path)
        let messages = v.problems.map(\.message)
        #expect(messages.contains { $0.contains("2 voxels are NaN or infinite") })
        // CELLA 0 is read with a warning that the pixel size is unknown (issue 15; mrcfile accepts it).
        #expect(v.problems.contains { $0.severity == .warning && $0.message.contains("the cell CELLA is 0 0 0: the pixel size is unknown") })
        #expect(messages.contains { $0.contains("MAP word") })
        #expect(v.statistics?.nonFinite == 2)
        // Still readable.
        #expect(try MRCFile.readMap(path: path).pixelSize == 0)
    }

    @Test func testWrongHeaderStatisticsAreReported() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("s.mrc")
        try MRCFile.write(randomMap(nx: 8, ny: 8, nz: 8, pixelSize: 1), to: path, policy: OutputPolicy())
        try MRCFile.rewriteHeader(input: path, output: dir.file("s2.mrc"), policy: OutputPolicy()) { $0.dmax = 100 }
        let v = try MRCValidator.validate(path: dir.file("s2.mrc"))
        #expect(v.problems.count == 1)
        #expect(v.problems.first?.message.contains("DMIN/DMAX") == true)
    }

    @Test func testRelionVolumeWithIspg0IsFlagged() throws {
        // RELION 3.1 writes volumes with ISPG 0 and MZ = NZ, which EMDB rejects.
        var h = MRCHeader()
        h.nx = 4; h.ny = 4; h.nz = 4; h.ispg = 0
        h.mx = 4; h.my = 4; h.mz = 4; h.cella = MRCTriple(4, 4, 4)
        let dir = TemporaryDirectory()
        writeBytes(h.encoded() + [UInt8](repeating: 0, count: 256), to: dir.file("r.mrc"))
        let v = try MRCValidator.validate(path: dir.file("r.mrc"))
        #expect(v.problems.contains { $0.message.contains("ISPG 0") })
        #expect(v.header?.isRelionStyleVolume == true && v.header?.isImageStack == false)
    }
}

@Suite struct MRCRelionTests {
    @Test(.enabled(if: Relion.has("relion_image_handler"), Comment(rawValue: Relion.missing("relion_image_handler"))))
    func testHeaderWrittenByRelionImageHandlerIsRead() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("in.mrc")
        let map = randomMap(nx: 12, ny: 12, nz: 12, pixelSize: 1.0)
        try MRCFile.write(map, to: input, policy: OutputPolicy())
        let out = dir.file("relion.mrc")
        let r = try runProcess(Relion.path("relion_image_handler")!,
                               ["--i", input, "--o", out, "--force_header_angpix", "1.37"])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        let h = try MRCFile.readHeader(path: out)
        #expect(h.mode == .float32)
        #expect(h.nx == 12 && h.ny == 12 && h.nz == 12)
        printMeasured("relion_image_handler --force_header_angpix 1.37: |pixel size read - 1.37|", abs(h.pixelSize - 1.37))
        #expect(abs(h.pixelSize - 1.37) < 2e-7)   // measured 4.5e-8 (2026-12-01): float32 header
        #expect(h.machineStampValid && h.byteOrder == .little)
        let back = try MRCFile.readMap(path: out)
        #expect(back.data == map.data)

        // A stack: RELION writes ISPG 0 and MZ 1.
        let stackIn = dir.file("in.mrcs")
        let stack = randomMap(nx: 10, ny: 10, nz: 4, pixelSize: 2.0)
        try MRCFile.write(stack, to: stackIn, policy: OutputPolicy(), isStack: true)
        let stackOut = dir.file("relion.mrcs")
        let r2 = try runProcess(Relion.path("relion_image_handler")!,
                                ["--i", stackIn, "--o", stackOut, "--force_header_angpix", "0.9"])
        #expect(r2.status == 0, Comment(rawValue: r2.stderr))
        let reader = try MRCStackReader(path: stackOut)
        #expect(reader.count == 4 && reader.nx == 10)
        #expect(abs(reader.pixelSize - 0.9) < 1e-5)
        #expect(try reader.image(2) == Array(stack.data[200..<300]))
    }
}
