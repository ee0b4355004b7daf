// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of maps stored with a permuted axis order (MAPC MAPR MAPS) and of mode-0
// signedness through `angpix map info | set-pixel-size | rescale`. Files are built by hand
// (AngpixTestSupport.RawMRC).

import Foundation
import Testing
import AngpixCore
import AngpixMRC
import AngpixTestSupport

/// A volume whose voxels all differ (value = x + 10 y + 100 z, scaled).
private func distinctVolume(nx: Int, ny: Int, nz: Int, pixelSize: Double) -> MRCMap {
    var m = MRCMap(nx: nx, ny: ny, nz: nz, pixelSize: pixelSize)
    for z in 0..<nz { for y in 0..<ny { for x in 0..<nx { m[x, y, z] = Float(x + 10 * y + 100 * z) / 100 } } }
    return m
}

@Suite struct MapAxisOrderCLITests {
    @Test func testMapInfoShowsThePermutedAxisOrderAndTheSizeAlongXYZ() throws {
        let dir = TemporaryDirectory()
        let map = distinctVolume(nx: 6, ny: 7, nz: 8, pixelSize: 1.5)
        let permuted = dir.file("p.mrc"), standard = dir.file("s.mrc")
        RawMRC.permutedVolume(map.data, nx: 6, ny: 7, nz: 8, pixelSize: 1.5, axes: (3, 1, 2)).write(to: permuted)
        RawMRC.permutedVolume(map.data, nx: 6, ny: 7, nz: 8, pixelSize: 1.5, axes: (1, 2, 3)).write(to: standard)
        let r = try runAngpix(["map", "info", permuted])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        #expect(r.stdout.contains("dimensions:    8 × 6 × 7"))
        #expect(r.stdout.contains("axis order:    MAPC MAPR MAPS 3 1 2, permuted (columns z, rows x, sections y): read as x y z 6 × 7 × 8"))
        #expect(r.stdout.contains("RELION and mrcfile read the data as stored"))
        let j = try runAngpix(["map", "info", permuted, "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        #expect(obj["mapSize"] as? [Int] == [6, 7, 8])
        #expect((obj["axisOrder"] as? String)?.hasPrefix("3 1 2, permuted") == true)
        let s = try runAngpix(["map", "info", standard])
        #expect(s.stdout.contains("axis order:    MAPC MAPR MAPS 1 2 3, standard (columns x, rows y, sections z)"))
        #expect(s.stdout.contains("problems:      none"))
    }

    @Test func testSetPixelSizeOfAPermutedMapKeepsTheData() throws {
        let dir = TemporaryDirectory()
        let map = distinctVolume(nx: 6, ny: 7, nz: 8, pixelSize: 1.5)
        let input = dir.file("p.mrc"), output = dir.file("o.mrc")
        RawMRC.permutedVolume(map.data, nx: 6, ny: 7, nz: 8, pixelSize: 1.5, axes: (2, 3, 1)).write(to: input)
        let r = try runAngpix(["map", "set-pixel-size", input, "--angpix", "1.4", "-o", output])
        #expect(r.status == 0, Comment(rawValue: r.stderr))
        let out = try MRCFile.readMap(path: output)
        #expect(out.nx == 6 && out.ny == 7 && out.nz == 8)
        #expect(abs(out.pixelSize - 1.4) < 1e-6)
        #expect(out.data == map.data)
        let h = try MRCFile.readHeader(path: output)
        #expect(abs(h.voxelSize.z - 1.4) < 1e-6 && abs(h.voxelSize.y - 1.4) < 1e-6)
    }

    @Test func testRescaleOfAPermutedMapEqualsRescaleOfTheStandardOne() throws {
        // Rescaling needs a cubic map: the sizes agree whatever the order, so only reading the data
        // in x, y, z order makes the two outputs equal.
        let dir = TemporaryDirectory()
        let map = distinctVolume(nx: 10, ny: 10, nz: 10, pixelSize: 1.2)
        let permuted = dir.file("p.mrc"), standard = dir.file("s.mrc")
        RawMRC.permutedVolume(map.data, nx: 10, ny: 10, nz: 10, pixelSize: 1.2, axes: (3, 1, 2)).write(to: permuted)
        RawMRC.permutedVolume(map.data, nx: 10, ny: 10, nz: 10, pixelSize: 1.2, axes: (1, 2, 3)).write(to: standard)
        for (input, output) in [(permuted, dir.file("p2.mrc")), (standard, dir.file("s2.mrc"))] {
            let r = try runAngpix(["map", "rescale", input, "--angpix", "1.5", "-o", output])
            #expect(r.status == 0, Comment(rawValue: r.stderr))
            #expect(r.stdout.contains("8 × 8 × 8 at 1.5 Å/pixel"), Comment(rawValue: r.stdout))
        }
        let a = try MRCFile.readMap(path: dir.file("p2.mrc")), b = try MRCFile.readMap(path: dir.file("s2.mrc"))
        #expect(a.nx == 8 && b.nx == 8 && a.nz == 8)
        #expect(abs(a.pixelSize - 1.5) < 1e-6 && abs(b.pixelSize - 1.5) < 1e-6)
        let worst = zip(a.data, b.data).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst < 1e-5)
        // And the data are not symmetric under the permutation (the test could fail).
        let transposedInput = RawMRC.permutedVolume(map.data, nx: 10, ny: 10, nz: 10, pixelSize: 1.2, axes: (3, 1, 2))
        #expect(transposedInput.data != RawMRC.permutedVolume(map.data, nx: 10, ny: 10, nz: 10, pixelSize: 1.2, axes: (1, 2, 3)).data)
    }

    @Test func testRescaleOfAPermutedStackIsRefusedNamingTheFile() throws {
        let dir = TemporaryDirectory()
        let input = dir.file("parts.mrcs"), output = dir.file("o.mrcs")
        var raw = RawMRC.permutedVolume((0..<(8 * 10 * 3)).map(Float.init), nx: 8, ny: 10, nz: 3, pixelSize: 1, axes: (2, 1, 3))
        raw.ispg = 0; raw.m = (8, 10, 1); raw.cella = (8, 10, 1)
        raw.write(to: input)
        let r = try runAngpix(["map", "rescale", input, "--box", "6", "-o", output])
        #expect(r.status == 1)
        #expect(r.stderr.contains("\(input): image stack with axis order MAPC MAPR MAPS = 2 1 3"))
        #expect(dir.listing() == ["parts.mrcs"])
    }
}

@Suite struct MapMode0CLITests {
    private func byteFile(_ path: String, stamp: Int32, flags: Int32) {
        var raw = RawMRC(n: (4, 1, 1), m: (4, 1, 1), cella: (4, 1, 1))
        raw.mode = 0; raw.ispg = 0; raw.imodStamp = stamp; raw.imodFlags = flags
        raw.data = [200, 0, 127, 255]
        raw.write(to: path)
    }

    @Test func testMapInfoSaysHowMode0BytesWereRead() throws {
        let dir = TemporaryDirectory()
        let unsigned = dir.file("u.mrc"), signed = dir.file("s.mrc")
        byteFile(unsigned, stamp: 1146047817, flags: 0)
        byteFile(signed, stamp: 0, flags: 0)
        let u = try runAngpix(["map", "info", unsigned])
        #expect(u.status == 0, Comment(rawValue: u.stderr))
        #expect(u.stdout.contains("mode 0 bytes:  unsigned (IMOD stamp, signed flag clear)"))
        #expect(u.stdout.contains("data stats:    min 0 max 255"))
        let s = try runAngpix(["map", "info", signed, "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as! [String: Any]
        #expect(obj["byteInterpretation"] as? String == "signed (MRC2014; no IMOD stamp)")
        let stats = obj["statistics"] as! [String: Any]
        #expect(stats["min"] as? Double == -56 && stats["max"] as? Double == 127)
    }
}
