// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of `angpix map info | set-pixel-size | rescale`, including the comparison with
// relion_image_handler --rescale_angpix / --new_box on generated maps and stacks.

import Foundation
import Testing
import AngpixCore
import AngpixMRC
import AngpixTestSupport

/// A random map (values in -1...1 plus `offset`), made in the test.
private func generatedMap(nx: Int, ny: Int, nz: Int, pixelSize: Double, seed: UInt64, offset: Float = 0) -> MRCMap {
    var state = seed
    var m = MRCMap(nx: nx, ny: ny, nz: nz, pixelSize: pixelSize)
    for i in 0..<m.count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        m.data[i] = Float(Double(state >> 11) / Double(1 << 53)) * 2 - 1 + offset
    }
    return m
}

private func relativeRMS(_ a: [Float], _ b: [Float]) -> Double {
    var d = 0.0, n = 0.0
    for i in 0..<min(a.count, b.count) {
        d += Double(a[i] - b[i]) * Double(a[i] - b[i])
        n += Double(b[i]) * Double(b[i])
    }
    return (d / max(n, 1e-30)).squareRoot()
}

private func fileBytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

@Suite struct MapInfoCommandTests {
    @Test func testMapInfoPrintsHeaderVoxelSizeAndStatistics() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("class001.mrc")
        try MRCFile.write(generatedMap(nx: 16, ny: 16, nz: 16, pixelSize: 1.06, seed: 1), to: path, policy: OutputPolicy())
        let r = try runAngpix(["map", "info", path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("16 × 16 × 16, volume"))
        #expect(r.stdout.contains("voxel size:    1.06 × 1.06 × 1.06 Å"))
        #expect(r.stdout.contains("2 (float32), little-endian"))
        #expect(r.stdout.contains("problems:      none"))

        let j = try runAngpix(["map", "info", path, "--json"])
        #expect(j.status == 0)
        let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        #expect(abs((obj["pixelSize"] as! Double) - 1.06) < 1e-6)
        #expect((obj["valid"] as! Bool) == true)
        #expect(((obj["header"] as! [String: Any])["ispg"] as! Int) == 1)
        #expect(((obj["statistics"] as! [String: Any])["finiteCount"] as! Int) == 4096)
    }

    @Test func testMapInfoOfATruncatedFileListsTheProblemAndFails() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("cut.mrcs")
        try MRCFile.write(generatedMap(nx: 8, ny: 8, nz: 4, pixelSize: 1, seed: 2), to: path, policy: OutputPolicy(), isStack: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(fileBytes(path).dropLast(100)))
        let r = try runAngpix(["map", "info", path])
        #expect(r.status == 1)
        #expect(r.stdout.contains("image stack (4 images of 8 × 8)"))
        #expect(r.stdout.contains("the file has 1948"))
        #expect(r.stderr.contains("\(path): not a valid MRC file (1 error"))
    }

    @Test func testMapInfoOfAMissingFileNamesIt() throws {
        let r = try runAngpix(["map", "info", "/nonexistent/x.mrc"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("/nonexistent/x.mrc: no such file"))
    }
}

@Suite struct MapSetPixelSizeCommandTests {
    @Test func testSetPixelSizeChangesTheHeaderOnly() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("in.mrc"), output = dir.file("out.mrc")
        try MRCFile.write(generatedMap(nx: 10, ny: 10, nz: 10, pixelSize: 1.0, seed: 3), to: input, policy: OutputPolicy(),
                          options: MRCWriteOptions(mode: .float16, byteOrder: .big))
        let r = try runAngpix(["map", "set-pixel-size", input, "--angpix", "0.98", "-o", output])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        #expect(r.stdout.contains("pixel size 1 → 0.98 Å"))
        let h = try MRCFile.readHeader(path: output)
        #expect(abs(h.pixelSize - 0.98) < 1e-6)
        #expect(h.mode == .float16 && h.byteOrder == .big)
        #expect(Array(fileBytes(output)[1024...]) == Array(fileBytes(input)[1024...]))
        // No overwrite without --force; with --force it is replaced.
        let again = try runAngpix(["map", "set-pixel-size", input, "--angpix", "0.97", "-o", output])
        #expect(again.status == 1)
        #expect(again.stderr.contains("\(output): already exists"))
        #expect(try runAngpix(["map", "set-pixel-size", input, "--angpix", "0.97", "-o", output, "--force"]).status == 0)
        #expect(abs(try MRCFile.readHeader(path: output).pixelSize - 0.97) < 1e-6)
        #expect(dir.listing() == ["in.mrc", "out.mrc"])
    }

    @Test func testSetPixelSizeRefusesNonPositiveValues() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("in.mrc")
        try MRCFile.write(generatedMap(nx: 4, ny: 4, nz: 4, pixelSize: 1.0, seed: 4), to: input, policy: OutputPolicy())
        for bad in ["0", "-1.5"] {
            let r = try runAngpix(["map", "set-pixel-size", input, "--angpix=\(bad)", "-o", dir.file("out.mrc")])
            #expect(r.status == 1)
            #expect(r.stderr.contains("\(input): --angpix"))
        }
        #expect(dir.listing() == ["in.mrc"])
    }
}

@Suite struct MapRescaleCommandTests {
    @Test func testRescaleWritesThePixelSizeReachedAndKeepsTheMean() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("vol.mrc"), output = dir.file("out.mrc")
        let map = generatedMap(nx: 32, ny: 32, nz: 32, pixelSize: 1.5, seed: 5, offset: 2)
        try MRCFile.write(map, to: input, policy: OutputPolicy())
        let r = try runAngpix(["map", "rescale", input, "--angpix", "1.7", "-o", output])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        #expect(r.stdout.contains("28 × 28 × 28 at 1.71429 Å/pixel"))
        #expect(r.stderr.contains("the one reached is 1.71429 Å"))
        let out = try MRCFile.readMap(path: output)
        #expect(out.nx == 28 && out.nz == 28)
        #expect(abs(out.pixelSize - 32 * 1.5 / 28) < 1e-5)
        let h = try MRCFile.readHeader(path: output)
        #expect(h.ispg == 1 && h.mode == .float32 && h.hasMapWord)
        let mean = map.data.reduce(0.0) { $0 + Double($1) } / Double(map.count)
        let newMean = out.data.reduce(0.0) { $0 + Double($1) } / Double(out.count)
        #expect(abs(mean - newMean) < 1e-5)
    }

    @Test func testRescaleOfAStackWritesAStackWithJSONSummary() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("parts.mrcs"), output = dir.file("small.mrcs")
        try MRCFile.write(generatedMap(nx: 40, ny: 40, nz: 9, pixelSize: 1.2, seed: 6), to: input, policy: OutputPolicy(), isStack: true)
        let r = try runAngpix(["map", "rescale", input, "--angpix", "1.5", "--box", "30", "-o", output, "--json"])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(obj["kind"] as? String == "stack")
        #expect(obj["outputShape"] as? [Int] == [30, 30])
        #expect(abs((obj["outputPixelSize"] as! Double) - 1.5) < 1e-9)
        let h = try MRCFile.readHeader(path: output)
        #expect(h.nx == 30 && h.ny == 30 && h.nz == 9 && h.ispg == 0 && h.mz == 1)
        #expect(abs(h.pixelSize - 1.5) < 1e-6)
    }

    /// Runs relion_image_handler and angpix on the same input and compares the outputs.
    private func compareWithRelion(_ map: MRCMap, isStack: Bool, angpix: Double?, box: Int?) throws {
        let dir = TemporaryDirectory()
        let ext = isStack ? "mrcs" : "mrc"
        let input = dir.file("in.\(ext)"), ours = dir.file("ours.\(ext)"), theirs = dir.file("relion.\(ext)")
        try MRCFile.write(map, to: input, policy: OutputPolicy(), isStack: isStack)
        var relionArgs = ["--i", input, "--o", theirs]
        var angpixArgs = ["map", "rescale", input, "-o", ours]
        if let angpix { relionArgs += ["--rescale_angpix", "\(angpix)"]; angpixArgs += ["--angpix", "\(angpix)"] }
        if let box { relionArgs += ["--new_box", "\(box)"]; angpixArgs += ["--box", "\(box)"] }
        let rr = try runProcess(Relion.path("relion_image_handler")!, relionArgs)
        #expect(rr.status == 0, Comment(rawValue: rr.stderr))
        let r = try runAngpix(angpixArgs)
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        let a = try MRCFile.readMap(path: ours), b = try MRCFile.readMap(path: theirs)
        #expect(a.nx == b.nx && a.ny == b.ny && a.nz == b.nz)
        let tag = "map rescale \(map.nx)×\(map.ny)×\(map.nz)\(isStack ? " stack" : "") \(map.pixelSize) Å → --angpix \(angpix.map { "\($0)" } ?? "-") --box \(box.map { "\($0)" } ?? "-")"
        let pixelRelative = abs(a.pixelSize - b.pixelSize) / b.pixelSize
        printMeasured("\(tag): relative pixel size difference", pixelRelative)
        // Measured 0, or 6.6e-8 (float32 header rounding) for a new box alone (2026-12-01).
        #expect(pixelRelative < 3e-7, "relative pixel size difference \(pixelRelative)")
        let rms = relativeRMS(a.data, b.data)
        printMeasured("\(tag): relative RMS difference", rms)
        // Measured 0 (box only) to 2.2e-7 (2026-12-01, 13 cases); the docs say about 2e-7.
        #expect(rms < 1e-6, "relative RMS difference \(rms)")
    }

    @Test(.enabled(if: Relion.has("relion_image_handler"), Comment(rawValue: Relion.missing("relion_image_handler"))),
          arguments: [(1.7, nil), (0.9, nil), (1.2, 30), (nil, 40)] as [(Double?, Int?)])
    func testMapRescaleAgreesWithRelionImageHandler(angpix: Double?, box: Int?) throws {
        try compareWithRelion(generatedMap(nx: 32, ny: 32, nz: 32, pixelSize: 1.5, seed: 7, offset: 0.5),
                              isStack: false, angpix: angpix, box: box)
    }

    @Test(.enabled(if: Relion.has("relion_image_handler"), Comment(rawValue: Relion.missing("relion_image_handler"))))
    func testOddMapRescaleAgreesWithRelionImageHandler() throws {
        try compareWithRelion(generatedMap(nx: 33, ny: 33, nz: 33, pixelSize: 1.3, seed: 8), isStack: false, angpix: 1.0, box: nil)
        try compareWithRelion(generatedMap(nx: 33, ny: 33, nz: 33, pixelSize: 1.3, seed: 9), isStack: false, angpix: 2.5, box: 20)
    }

    @Test(.enabled(if: Relion.has("relion_image_handler"), Comment(rawValue: Relion.missing("relion_image_handler"))),
          arguments: [(1.5, nil), (0.7, nil), (1.3, 36), (nil, 24)] as [(Double?, Int?)])
    func testStackRescaleAgreesWithRelionImageHandler(angpix: Double?, box: Int?) throws {
        try compareWithRelion(generatedMap(nx: 40, ny: 40, nz: 12, pixelSize: 1.2, seed: 10, offset: -0.3),
                              isStack: true, angpix: angpix, box: box)
    }

    @Test(.enabled(if: Relion.has("relion_image_handler"), Comment(rawValue: Relion.missing("relion_image_handler"))))
    func testOddAndRectangularStacksAgreeWithRelionImageHandler() throws {
        try compareWithRelion(generatedMap(nx: 45, ny: 45, nz: 5, pixelSize: 1.1, seed: 11), isStack: true, angpix: 1.6, box: nil)
        try compareWithRelion(generatedMap(nx: 48, ny: 40, nz: 3, pixelSize: 1.0, seed: 12), isStack: true, angpix: 1.3, box: nil)
        try compareWithRelion(generatedMap(nx: 48, ny: 40, nz: 3, pixelSize: 1.0, seed: 13), isStack: true, angpix: 0.8, box: nil)
    }
}

@Suite struct MapRescaleBadInputTests {
    /// Runs `map rescale` expecting exit 1, a one-line error containing `expected`, and no output.
    private func expectFailure(_ dir: TemporaryDirectory, _ args: [String], _ expected: String) throws {
        let before = dir.listing()
        let r = try runAngpix(["map", "rescale"] + args + ["-o", dir.file("out.mrc")])
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("Usage") && !$0.hasPrefix("  See") && !$0.isEmpty }
        #expect(lines.count == 1, Comment(rawValue: r.stderr))
        #expect(r.stderr.contains(expected), Comment(rawValue: r.stderr))
        #expect(dir.listing() == before)
    }

    private func goodMap(_ dir: TemporaryDirectory) throws -> String {
        let p = dir.file("in.mrc")
        try MRCFile.write(generatedMap(nx: 16, ny: 16, nz: 16, pixelSize: 1.0, seed: 14), to: p, policy: OutputPolicy())
        return p
    }

    @Test func testOddOrTinyBoxIsRefused() throws {
        let dir = TemporaryDirectory()
        let p = try goodMap(dir)
        try expectFailure(dir, [p, "--box", "15"], "\(p): box 15 is odd")
        try expectFailure(dir, [p, "--box", "0"], "\(p): box 0 is smaller than 2")
        try expectFailure(dir, [p, "--angpix", "20"], "\(p): rescaling the box of 16 gives a box of 0")
    }

    @Test func testNonPositivePixelSizesAreRefused() throws {
        let dir = TemporaryDirectory()
        let p = try goodMap(dir)
        try expectFailure(dir, [p, "--angpix=-1"], "\(p): the new pixel size --angpix -1.0 Å is not positive")
        let zero = dir.file("zero.mrc")
        try MRCFile.rewriteHeader(input: p, output: zero, policy: OutputPolicy()) { $0.cella = MRCTriple(0, 0, 0) }
        try expectFailure(dir, [zero, "--angpix", "2"], "\(zero): the header gives no pixel size (CELLA 0 0 0); map rescale needs one: give it with --input-angpix")
    }

    @Test func testBrokenFilesAreRefusedNamingTheFile() throws {
        let dir = TemporaryDirectory()
        let p = try goodMap(dir)
        let bytes = fileBytes(p)
        let truncated = dir.file("truncated.mrc")
        _ = FileManager.default.createFile(atPath: truncated, contents: Data(bytes.dropLast(1000)))
        try expectFailure(dir, [truncated, "--angpix", "2"], "\(truncated): truncated")
        let longer = dir.file("longer.mrc")
        _ = FileManager.default.createFile(atPath: longer, contents: Data(bytes + [1, 2, 3, 4]))
        try expectFailure(dir, [longer, "--angpix", "2"], "\(longer): the header's sizes disagree with the file size")
        var modeBytes = bytes
        modeBytes[12] = 9
        let mode = dir.file("mode.mrc")
        _ = FileManager.default.createFile(atPath: mode, contents: Data(modeBytes))
        try expectFailure(dir, [mode, "--angpix", "2"], "\(mode): unknown MRC mode 9")
        try expectFailure(dir, [dir.file("missing.mrc"), "--angpix", "2"], "\(dir.file("missing.mrc")): no such file")
    }

    @Test func testExistingOutputIsNotOverwrittenWithoutForce() throws {
        let dir = TemporaryDirectory()
        let p = try goodMap(dir)
        let out = dir.file("out.mrc")
        #expect(try runAngpix(["map", "rescale", p, "--angpix", "2", "-o", out]).status == 0)
        let r = try runAngpix(["map", "rescale", p, "--angpix", "1.6", "-o", out])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(out): already exists"))
        #expect(try MRCFile.readHeader(path: out).nx == 8)
        #expect(try runAngpix(["map", "rescale", p, "--angpix", "1.6", "-o", out, "--force"]).status == 0)
        #expect(try MRCFile.readHeader(path: out).nx == 10)
        let same = try runAngpix(["map", "rescale", p, "--angpix", "1.6", "-o", p, "--force"])
        #expect(same.status == 1)
        #expect(same.stderr.contains("would overwrite an input"))
    }
}
