// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// End-to-end tests of `angpix calibrate rings` and `angpix optics set-magnification`:
// a SIMULATED round trip through RELION's rlnMagMat convention, and bad input (every error names
// the file or the searched range, and no output is written).

import Foundation
import Testing
import AngpixCore
import AngpixMRC
import AngpixOptics
import AngpixRings
import AngpixSTAR
import AngpixTestSupport

@Suite struct RingsCLITests {
    @Test func testRoundTripThroughRlnMagMatAndSetMagnification() throws {
        let seed = SharedGold.seed
        let dir = TemporaryDirectory("rings")
        // The shared gold images: truly 0.85 Å/px with a distortion D, labelled 0.8585 in the
        // headers: the matrix for data at 0.8585 Å/px is M = (0.8585 / 0.85) Dᵀ.
        let t = SharedGold.truePixelSize, p = SharedGold.nominalPixelSize
        let d = SharedGold.distortionMatrix
        let expected = expectedMagMatrix(d, truePixelSize: t, nominal: p)
        let images = try SharedGold.images.get()
        let paths = try writeImages(images, folder: dir.path, pixelSize: p)
        let out = dir.file("rings.json"), html = dir.file("rings.html")
        let r = try runAngpix(["calibrate", "rings"] + paths + ["--standard", "gold", "-o", out, "--report", html])
        #expect(r.status == 0, "seed \(seed): \(r.stderr)")
        #expect(r.stdout.contains("rlnMagMat00") && r.stdout.contains("-Mag "))
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])
        let m = try #require(obj["magMatrix"] as? [String: Double])
        print("SIMULATED seed \(seed): rlnMagMat \(m), expected \(expected)")
        for (k, v) in [("m00", expected.m00), ("m01", expected.m01), ("m10", expected.m10), ("m11", expected.m11)] {
            #expect(abs((m[k] ?? 0) - v) < 0.001, "seed \(seed): \(k) = \(m[k] ?? .nan), expected \(v)")
        }
        // The plots beside the JSON (listed in it, so `angpix report` shows them) and in the HTML page.
        let plots = try #require(obj["plots"] as? [String])
        #expect(plots == ["rings-spectrum.svg", "rings-profile-111.svg", "rings-profile-200.svg"])
        for name in plots {
            let svg = try String(contentsOfFile: dir.file(name), encoding: .utf8)
            #expect(svg.contains("<svg") && svg.contains("</svg>"), "\(name)")
        }
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("<svg") && page.contains("fitted rlnMagMat") && page.contains("Averaged power spectrum") && !page.contains("<script"))

        // The wrong standard. Ice's 3.661 Å: no ring in the band, an error naming the range
        // searched, nothing written.
        let iceOut = dir.file("ice.json")
        let ice = try runAngpix(["calibrate", "rings"] + paths + ["--standard", "ice", "-o", iceOut])
        #expect(ice.status != 0 && ice.stderr.contains("no ring found") && ice.stderr.contains("searched"), "\(ice.stderr)")
        #expect(!FileManager.default.fileExists(atPath: iceOut))
        // Graphene's 2.13 Å band (±5 %) reaches gold's (200) at 2.039 Å: a ring is found, 4 % off,
        // and the result comes with a warning that names the standard.
        let graphene = try runAngpix(["calibrate", "rings"] + paths + ["--standard", "graphene", "--json"])
        #expect(graphene.status == 0, "\(graphene.stderr)")
        #expect(graphene.stderr.contains("not of graphene") && graphene.stderr.contains("from the radius the nominal pixel size"), "\(graphene.stderr)")

        // Into a STAR file: group 1 has a matrix already, group 2 is left alone.
        let star = dir.write("particles.star", """
        # version 30001

        data_optics

        loop_
        _rlnOpticsGroup #1
        _rlnOpticsGroupName #2
        _rlnAmplitudeContrast #3
        _rlnSphericalAberration #4
        _rlnVoltage #5
        _rlnImagePixelSize #6
        _rlnMicrographOriginalPixelSize #7
        _rlnImageSize #8
        _rlnImageDimensionality #9
        _rlnMagMat00 #10
        _rlnMagMat01 #11
        _rlnMagMat10 #12
        _rlnMagMat11 #13
        1 g1 0.1 2.7 300.0 1.717 0.8585 200 2 1.010000 0.020000 -0.030000 0.990000
        2 g2 0.1 2.7 300.0 1.717 0.8585 200 2 1.000000 0.000000 0.000000 1.000000

        """)
        let outStar = dir.file("out.star")
        let s = try runAngpix(["optics", "set-magnification", star, "--from", out, "--groups", "1", "-o", outStar])
        #expect(s.status == 0, "\(s.stderr)")
        let doc = try STARDocument(path: outStar)
        let table = try OpticsTable(block: try #require(doc.block("optics")), file: outStar)
        let g1 = try #require(table.group(1)?.magMatrix), g2 = try #require(table.group(2)?.magMatrix)
        let total = Matrix2x2(1.01, 0.02, -0.03, 0.99) * Matrix2x2(m["m00"]!, m["m01"]!, m["m10"]!, m["m11"]!)
        #expect(abs(g1.m00 - total.m00) < 2e-6 && abs(g1.m01 - total.m01) < 2e-6 && abs(g1.m10 - total.m10) < 2e-6 && abs(g1.m11 - total.m11) < 2e-6)
        #expect(g2 == MagnificationMatrix.identity)
        // --matrix form, all groups.
        let outStar2 = dir.file("out2.star")
        let s2 = try runAngpix(["optics", "set-magnification", star, "--matrix", "1.01,0,0,0.99", "-o", outStar2])
        #expect(s2.status == 0, "\(s2.stderr)")
        let t2 = try OpticsTable(block: try #require(try STARDocument(path: outStar2).block("optics")), file: outStar2)
        #expect(abs((t2.group(2)?.magMatrix?.m11 ?? 0) - 0.99) < 1e-9)
        // Without --force nothing is overwritten (the SVG beside the JSON included) and, on that
        // error, no JSON is written.
        try FileManager.default.removeItem(atPath: out)
        let again = try runAngpix(["calibrate", "rings"] + paths + ["--standard", "gold", "-o", out])
        #expect(again.status != 0 && again.stderr.contains("rings-spectrum.svg") && !FileManager.default.fileExists(atPath: out), "\(again.stderr)")
    }

    private func writeImage(_ dir: TemporaryDirectory, _ name: String, nx: Int, ny: Int, nz: Int = 1, pixelSize: Double, data: [Float]) throws -> String {
        let path = dir.file(name)
        try MRCFile.write(MRCMap(nx: nx, ny: ny, nz: nz, pixelSize: pixelSize, data: data), to: path, policy: OutputPolicy(), isStack: nz > 1)
        return path
    }

    private func noise(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.normalPair().0) }
    }

    @Test func testBadInputErrorsNameTheFileAndWriteNothing() throws {
        let dir = TemporaryDirectory("rings-bad")
        let out = dir.file("out.json")
        func fails(_ args: [String], _ needles: [String]) throws {
            let r = try runAngpix(["calibrate", "rings"] + args + ["-o", out])
            #expect(r.status != 0, "\(args): should fail")
            for n in needles { #expect(r.stderr.contains(n), "\(args): \(r.stderr) lacks \(n)") }
            #expect(!FileManager.default.fileExists(atPath: out), "\(args): output written on error")
        }
        // Ring beyond Nyquist: 1.5 Å/px has Nyquist 0.333 Å⁻¹, gold's rings are at 0.42 and 0.49.
        let noisy = try writeImage(dir, "noise.mrc", nx: 512, ny: 512, pixelSize: 1.5, data: noise(512 * 512, seed: 3))
        try fails([noisy, "--standard", "gold"], ["beyond Nyquist", "gold"])
        // Wrong standard / no crystalline signal: no ring found, with the range searched.
        try fails([noisy, "--standard", "4.0"], ["no ring found", "searched", "Å⁻¹"])
        // Too small for the spacing.
        let tiny = try writeImage(dir, "tiny.mrc", nx: 64, ny: 64, pixelSize: 0.85, data: noise(64 * 64, seed: 4))
        try fails([tiny, "--standard", "gold"], ["tiny.mrc", "too small"])
        // A constant image.
        let flat = try writeImage(dir, "flat.mrc", nx: 256, ny: 256, pixelSize: 0.85, data: [Float](repeating: 7, count: 256 * 256))
        try fails([flat, "--standard", "gold"], ["flat.mrc", "constant"])
        // Images (frames) of different sizes.
        let big = try writeImage(dir, "big.mrc", nx: 512, ny: 512, pixelSize: 0.85, data: noise(512 * 512, seed: 5))
        let movie = try writeImage(dir, "movie.mrcs", nx: 256, ny: 256, nz: 3, pixelSize: 0.85, data: noise(256 * 256 * 3, seed: 6))
        try fails([big, movie, "--standard", "gold"], ["movie.mrcs", "256 × 256"])
        // A truncated movie.
        let cut = dir.file("cut.mrcs")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: movie))
        try bytes.prefix(bytes.count - 1000).write(to: URL(fileURLWithPath: cut))
        try fails([cut, "--standard", "gold"], ["cut.mrcs", "truncated"])
        // TIFF and EER are not read.
        let tif = dir.write("movie.tif", "II*\0")
        try fails([tif, "--standard", "gold"], ["movie.tif", "TIFF", "not supported"])
        // A saturated image: a warning naming the file (seen even though this noise then has no ring).
        var clipped = noise(512 * 512, seed: 8)
        for i in clipped.indices where clipped[i] > 1 { clipped[i] = 1 }
        let saturated = try writeImage(dir, "saturated.mrc", nx: 512, ny: 512, pixelSize: 0.85, data: clipped)
        try fails([saturated, "--standard", "gold"], ["saturated.mrc", "saturated", "no ring found"])
        // A nearly empty image (a few hot pixels on zeros).
        var blank = [Float](repeating: 0, count: 512 * 512)
        for i in stride(from: 0, to: blank.count, by: 997) { blank[i] = 3 }
        let empty = try writeImage(dir, "blank.mrc", nx: 512, ny: 512, pixelSize: 0.85, data: blank)
        try fails([empty, "--standard", "gold"], ["blank.mrc", "nearly empty"])
        // An all-zero image (empty): constant.
        let zeros = try writeImage(dir, "zeros.mrc", nx: 256, ny: 256, pixelSize: 0.85, data: [Float](repeating: 0, count: 256 * 256))
        try fails([zeros, "--standard", "gold"], ["zeros.mrc", "constant"])
        // No pixel size anywhere.
        let zero = try writeImage(dir, "zero.mrc", nx: 256, ny: 256, pixelSize: 0, data: noise(256 * 256, seed: 7))
        try fails([zero, "--standard", "gold"], ["zero.mrc", "--angpix"])
    }
}
