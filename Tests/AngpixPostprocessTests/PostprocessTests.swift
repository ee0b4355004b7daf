// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Unit tests of the Postprocess pieces: RELION's random phases, FSC, the Guinier fit, the
// postprocess.star writer and rescale, and every bad input the issue lists.

import Testing
import Foundation
import AngpixCore
import AngpixMRC
import AngpixSTAR
import AngpixTestSupport
import AngpixFourier
@testable import AngpixPostprocess

@Suite("Postprocess")
struct PostprocessTests {
    @Test func testGlibcRandomReproducesTheCLibrarySequence() {
        #if canImport(Glibc)
        for seed: UInt32 in [0, 1, 42, 123_456] {
            srand(seed)
            var g = GlibcRandom(seed: seed)
            for _ in 0..<2000 { #expect(g.next() == rand()) }
        }
        #endif
        var g = GlibcRandom(seed: 0)
        #expect(g.next() == 1_804_289_383)   // glibc's well-known first rand()
    }

    @Test func testFSCOfAMapWithItselfIsOneAndOfIndependentNoiseIsNearZero() throws {
        let n = 32
        var rng = SplitMix64(seed: 5)
        let a = (0..<(n * n * n)).map { _ in Float(rng.normalPair().0) }
        let b = (0..<(n * n * n)).map { _ in Float(rng.normalPair().0) }
        let plan = try RealFFTPlanShim.plan(n)
        let fa = plan.forward(a), fb = plan.forward(b)
        let shells = try FourierShells(cubeOfSize: n)
        let same = fa.withUnsafeBufferPointer { shells.fsc($0, $0) }
        #expect(same.count == n / 2 + 1)
        for v in same { #expect(abs(v - 1) < 1e-9) }
        let cross = fa.withUnsafeBufferPointer { x in fb.withUnsafeBufferPointer { y in shells.fsc(x, y) } }
        for v in cross.dropFirst(3) { #expect(abs(v) < 0.25) }
    }

    @Test func testStraightLineFitRecoversSlopeAndIgnoresZeroWeights() {
        let x = (0..<10).map { Double($0) * 0.01 }
        var y = x.map { -50 * $0 + 2 }
        var w = [Double](repeating: 1, count: 10)
        y[0] = 100; w[0] = 0
        let f = fitStraightLine(x: x, y: y, w: w)
        #expect(abs(f.slope + 50) < 1e-9)
        #expect(abs(f.intercept - 2) < 1e-9)
        #expect(f.points == 9)
        #expect(abs(f.correlation - 1) < 1e-9)
    }

    @Test func testPhaseRandomisationKeepsAmplitudesAndLowShells() throws {
        let n = 24
        var rng = SplitMix64(seed: 9)
        let a = (0..<(n * n * n)).map { _ in Float(rng.normalPair().0) }
        let plan = try RealFFTPlanShim.plan(n)
        var f = plan.forward(a)
        let before = f
        let shells = try FourierShells(cubeOfSize: n)
        var random = GlibcRandom(seed: 0)
        f.withUnsafeMutableBufferPointer { shells.randomizePhases($0, beyondShell: 5, random: &random) }
        let fsc = f.withUnsafeBufferPointer { x in before.withUnsafeBufferPointer { y in shells.fsc(x, y) } }
        for i in 0..<4 { #expect(abs(fsc[i] - 1) < 1e-6, "shell \(i) below the randomisation keeps its phases") }
        for i in 7..<fsc.count { #expect(abs(fsc[i]) < 0.3, "shell \(i) is decorrelated") }
        let ampBefore = before.withUnsafeBufferPointer { shells.amplitudeSums($0).sum }
        let ampAfter = f.withUnsafeBufferPointer { shells.amplitudeSums($0).sum }
        for i in 0..<ampBefore.count { #expect(abs(ampAfter[i] - ampBefore[i]) <= 0.2 * ampBefore[i]) }
    }

    @Test func testPostprocessStarHasRelionTablesAndLabels() throws {
        let dir = TemporaryDirectory("pp-star")
        let maps = try SyntheticHalfMaps(size: 40, pixelSize: 1.5, seed: 2)
        let p = try maps.write(prefix: dir.file("m"))
        var o = PostprocessOptions()
        o.autoBFactor = true
        let r = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: o)
        let files = try r.write(to: dir.file("out"), inputs: PostprocessInputNames(half1: "h1.mrc", half2: "h2.mrc", mask: "mask.mrc"),
                                commandLine: "angpix postprocess", policy: OutputPolicy())
        let doc = try STARDocument(path: files.star)
        let general = try #require(doc.block("general"))
        #expect(!general.isLoop)
        for label in ["rlnFinalResolution", "rlnBfactorUsedForSharpening", "rlnUnfilteredMapHalf1", "rlnUnfilteredMapHalf2",
                      "rlnParticleBoxFractionSolventMask", "rlnMaskName", "rlnRandomiseFrom", "rlnFittedSlopeGuinierPlot",
                      "rlnFittedInterceptGuinierPlot", "rlnCorrelationFitGuinierPlot"] {
            #expect(general.has(label), "data_general lacks \(label)")
        }
        #expect(general.value("rlnMaskName") == "mask.mrc")
        let fsc = try #require(doc.block("fsc"))
        #expect(fsc.labels == ["rlnSpectralIndex", "rlnResolution", "rlnAngstromResolution",
                               "rlnFourierShellCorrelationCorrected", "rlnFourierShellCorrelationParticleMaskFraction",
                               "rlnFourierShellCorrelationUnmaskedMaps", "rlnFourierShellCorrelationMaskedMaps",
                               "rlnCorrectedFourierShellCorrelationPhaseRandomizedMaskedMaps"])
        #expect(fsc.rowCount == 21)
        let d = try fsc.doubles("rlnAngstromResolution")
        #expect(d[0] == 999)
        #expect(abs(d[20] - 3.0) < 1e-6)
        let guinier = try #require(doc.block("guinier"))
        #expect(guinier.labels == ["rlnResolutionSquared", "rlnLogAmplitudesOriginal", "rlnLogAmplitudesWeighted",
                                   "rlnLogAmplitudesSharpened", "rlnLogAmplitudesIntercept"])
        let final = Double(general.value("rlnFinalResolution")!)!
        #expect(abs(final - r.finalResolution) < 1e-5)
        // Maps: header pixel size, the masked one is zero outside the mask.
        let masked = try MRCFile.readMap(path: files.maskedMap!)
        #expect(abs(masked.pixelSize - 1.5) < 1e-5)
        #expect(masked.data[0] == 0)
        #expect(FileManager.default.fileExists(atPath: files.fscXML))
    }

    @Test func testRescaleMultipliesResolutionByRatioAndBFactorBySquare() throws {
        let dir = TemporaryDirectory("pp-rescale")
        let maps = try SyntheticHalfMaps(size: 40, pixelSize: 1.0, seed: 4)
        let p = try maps.write(prefix: dir.file("m"))
        var o = PostprocessOptions()
        o.autoBFactor = true
        let r = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: o)
        let files = try r.write(to: dir.path, inputs: PostprocessInputNames(half1: p.half1, half2: p.half2, mask: p.mask),
                                commandLine: "test", policy: OutputPolicy())
        let doc = try STARDocument(path: files.star)
        #expect(abs(PostprocessRescale.pixelSize(fromFSC: doc.block("fsc")!)! - 1.0) < 1e-5)
        let s = try PostprocessRescale.rescale(doc, path: files.star, from: 1.0, to: 0.95)
        #expect(abs(s.newFinalResolution! - r.finalResolution * 0.95) < 1e-5)
        #expect(abs(s.newBFactor! - r.bFactor * 0.95 * 0.95) < 1e-3)
        let fsc = doc.block("fsc")!
        let d = try fsc.doubles("rlnAngstromResolution")
        let f = try fsc.doubles("rlnResolution")
        #expect(d[0] == 999)
        #expect(abs(d[1] - 40 * 0.95) < 1e-4)
        #expect(abs(f[1] - 1 / (40 * 0.95)) < 1e-5)
        #expect(try fsc.doubles("rlnFourierShellCorrelationCorrected") == r.fscCorrected.map { Double(formatRelionNumber($0))! })
        // The rescaled table now implies the new pixel size.
        #expect(abs(PostprocessRescale.pixelSize(fromFSC: fsc)! - 0.95) < 1e-4)
    }

    // MARK: bad input

    func writeMaps(_ dir: TemporaryDirectory, n: Int = 24) throws -> (half1: String, half2: String, mask: String) {
        try SyntheticHalfMaps(size: n, pixelSize: 1.0, seed: 1).write(prefix: dir.file("m"))
    }

    @Test func testHalfMapsOfDifferentShapesAreRefused() throws {
        let dir = TemporaryDirectory("pp-bad")
        let p = try writeMaps(dir)
        let other = try SyntheticHalfMaps(size: 28, pixelSize: 1.0).write(prefix: dir.file("o"))
        let e = #expect(throws: PostprocessError.self) {
            _ = try Postprocessor.run(half1: p.half1, half2: other.half2, mask: p.mask, options: PostprocessOptions())
        }
        #expect(e?.description.contains(other.half2) == true && e?.description.contains("28×28×28") == true,
                "\(String(describing: e))")
    }

    @Test func testHalfMapsWithDifferentPixelSizesAreRefusedUnlessAngpixIsGiven() throws {
        let dir = TemporaryDirectory("pp-bad")
        let p = try writeMaps(dir)
        var h2 = try MRCFile.readMap(path: p.half2)
        h2.pixelSize = 1.1
        try MRCFile.write(h2, to: p.half2, policy: OutputPolicy(overwrite: true))
        #expect(throws: PostprocessError.pixelSizeMismatch(path: p.half2, pixelSize: Double(Float(1.1 * 24)) / 24, otherPath: p.half1, otherPixelSize: 1.0)) {
            _ = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: PostprocessOptions())
        }
        var o = PostprocessOptions()
        o.pixelSize = 1.05
        let r = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: o)
        #expect(r.warnings.contains { $0.contains("disagree on the pixel size") })
    }

    @Test func testMaskOfAnotherShapeIsRefused() throws {
        let dir = TemporaryDirectory("pp-bad")
        let p = try writeMaps(dir)
        let other = try SyntheticHalfMaps(size: 28, pixelSize: 1.0).write(prefix: dir.file("o"))
        let e = #expect(throws: PostprocessError.self) {
            _ = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: other.mask, options: PostprocessOptions())
        }
        #expect(e?.description.contains(other.mask) == true, "\(String(describing: e))")
    }

    @Test func testMaskValuesOutsideZeroToOneAreRefused() throws {
        let dir = TemporaryDirectory("pp-bad")
        let p = try writeMaps(dir)
        var m = try MRCFile.readMap(path: p.mask)
        m.data[5] = 1.5
        m.data[6] = -0.25
        try MRCFile.write(m, to: p.mask, policy: OutputPolicy(overwrite: true))
        #expect(throws: PostprocessError.maskOutOfRange(path: p.mask, minimum: -0.25, maximum: 1.5)) {
            _ = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: PostprocessOptions())
        }
    }

    @Test func testNaNInAHalfMapIsRefusedWithItsVoxel() throws {
        let dir = TemporaryDirectory("pp-bad")
        let p = try writeMaps(dir)
        var h = try MRCFile.readMap(path: p.half1)
        h.data[(3 * 24 + 2) * 24 + 1] = .nan
        try MRCFile.write(h, to: p.half1, policy: OutputPolicy(overwrite: true))
        #expect(throws: PostprocessError.notFinite(path: p.half1, x: 1, y: 2, z: 3)) {
            _ = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: PostprocessOptions())
        }
    }

    @Test func testFSCThatNeverDropsBelow0143ReportsNyquist() throws {
        let dir = TemporaryDirectory("pp-nyq")
        // Almost no noise: the halves agree to Nyquist.
        let p = try SyntheticHalfMaps(size: 32, pixelSize: 1.3, bFactor: 0, noise: 1e-5, seed: 3).write(prefix: dir.file("m"))
        var o = PostprocessOptions()
        o.randomizeAtAngstrom = 8
        let r = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: o)
        #expect(r.reachesNyquist)
        #expect(r.finalResolutionShell == 16)
        #expect(abs(r.finalResolution - 2.6) < 1e-5)
        #expect(r.warnings.contains { $0.contains("never drops below 0.143") && $0.contains("Nyquist") })
    }

    @Test func testFSCThatNeverDropsBelowTheRandomisationThresholdIsAnError() throws {
        let dir = TemporaryDirectory("pp-nyq")
        let p = try SyntheticHalfMaps(size: 32, pixelSize: 1.3, bFactor: 0, noise: 1e-5, seed: 3).write(prefix: dir.file("m"))
        #expect(throws: PostprocessError.fscNeverDropsBelow(threshold: 0.8)) {
            _ = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: PostprocessOptions())
        }
    }

    @Test func testWithoutMaskTheUnmaskedFSCIsUsed() throws {
        let dir = TemporaryDirectory("pp-nomask")
        let p = try writeMaps(dir, n: 32)
        let r = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: nil, options: PostprocessOptions())
        #expect(r.fscMasked == nil && r.randomiseFromShell == nil)
        #expect(r.fscCorrected == r.fscUnmasked)
        #expect(r.maskedMap == nil)
    }
}

/// A cached FFT plan for an n³ cube.
enum RealFFTPlanShim {
    static func plan(_ n: Int) throws -> AngpixFourier.RealFFTPlan { try AngpixFourier.RealFFTPlan.cached(shape: [n, n, n]) }
}

@Test func testAnEmptyMaskIsRefused() throws {
    let dir = TemporaryDirectory("pp-bad")
    let p = try SyntheticHalfMaps(size: 24, pixelSize: 1.0, seed: 1).write(prefix: dir.file("m"))
    var m = try MRCFile.readMap(path: p.mask)
    m.data = [Float](repeating: 0, count: m.data.count)
    try MRCFile.write(m, to: p.mask, policy: OutputPolicy(overwrite: true))
    #expect(throws: PostprocessError.emptyMask(path: p.mask)) {
        _ = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: PostprocessOptions())
    }
}

@Test func testRescaleRefusesAStarFileThatIsNotFromPostProcess() throws {
    let doc = try STARDocument(text: "data_optics\nloop_\n_rlnOpticsGroup\n1\n", name: "run_data.star")
    let e = #expect(throws: PostprocessError.self) {
        _ = try PostprocessRescale.rescale(doc, path: "run_data.star", from: 1.0, to: 0.9)
    }
    #expect(e?.description.hasPrefix("run_data.star: ") == true, "\(String(describing: e))")
}
