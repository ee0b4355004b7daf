// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// SIMULATED accuracy tests of the ring calibration: gold images with a known pixel size
// and detector distortion (AngpixSimulation, seeded with SplitMix64; the seed is in every failure
// message). To keep the suite near a minute on a 2-core machine the images are 2048² (rendered on
// a 4096² super-resolution grid) and fewer than the 10 × 4096², but the tolerances
// are asserted; the 10 × 4096² result comes from `angpix-bench rings` (docs/calibrate-rings.md).

import Foundation
import Testing
import AngpixCore
import AngpixOptics
import AngpixRings
import AngpixSimulation

@Suite struct RingsAccuracyTests {
    @Test func testOnePercentAnisotropyAtMinus50DegreesAndNominalPixelSize1PercentOff() throws {
        let seed = SharedGold.seed
        let t = SharedGold.truePixelSize, p = SharedGold.nominalPixelSize
        let d = SharedGold.distortionMatrix
        let images = try SharedGold.images.get()
        let (r, detail) = try RingsCalibration.run(images: images, standard: .gold, nominalPixelSize: p)
        let truth = t / d.determinant.squareRoot()
        let pixelError = (r.pixelSize.value / truth - 1) * 100
        let anisoTruth = (SharedGold.high / SharedGold.low - 1) * 100
        let angleError = angleDifference(r.majorAxisAngle.value, SharedGold.axisAngle)
        print(String(format: "SIMULATED seed %llu: pixel size %.5f (truth %.5f, error %+.4f %%), anisotropy %.4f %% (truth %.4f), angle %.2f° (truth %.0f)",
                     seed, r.pixelSize.value, truth, pixelError, r.anisotropyPercent.value, anisoTruth, r.majorAxisAngle.value, SharedGold.axisAngle))
        // The tolerances.
        #expect(abs(pixelError) < 0.05, "seed \(seed): pixel size error \(pixelError) %")
        #expect(abs(r.anisotropyPercent.value - anisoTruth) < 0.1, "seed \(seed): anisotropy \(r.anisotropyPercent.value) %, truth \(anisoTruth)")
        #expect(abs(angleError) < 2, "seed \(seed): angle \(r.majorAxisAngle.value)°")
        #expect(r.anisotropySignificant)
        let m = r.magMatrix, e = expectedMagMatrix(d, truePixelSize: t, nominal: p)
        for (a, b) in [(m.m00, e.m00), (m.m01, e.m01), (m.m10, e.m10), (m.m11, e.m11)] {
            #expect(abs(a - b) < 0.001, "seed \(seed): rlnMagMat \(m) vs \(e)")
        }
        // Both gold rings used, each within 0.05 % of the truth, and agreeing.
        let used = r.rings.filter(\.used)
        #expect(used.map(\.label) == ["(111)", "(200)"], "seed \(seed)")
        if used.count == 2, let a = used[0].pixelSize?.value, let b = used[1].pixelSize?.value {
            print(String(format: "SIMULATED seed %llu: ring (111) %+.4f %%, ring (200) %+.4f %%", seed, (a / truth - 1) * 100, (b / truth - 1) * 100))
            #expect(abs(a / truth - 1) < 0.0005 && abs(b / truth - 1) < 0.0005, "seed \(seed): rings give \(a) and \(b) Å")
            #expect(abs(a / b - 1) < 0.001, "seed \(seed): rings give \(a) and \(b) Å")
        }
        #expect(r.pixelSize.spreadError != nil && r.singleEstimates.count == SharedGold.count)

        // RELION: the CTF evaluated with the calibrated rlnMagMat at the observed frequency (1/Å at
        // the nominal pixel size) is the CTF of the specimen's true frequency (what the simulator
        // applied): q = Dᵀ ν / t for ν in cycles per pixel.
        let base = CTFParameters(defocusU: 12000, defocusV: 11000, defocusAngle: 20, voltage: 300,
                                 sphericalAberration: 2.7, amplitudeContrast: 0.1)
        var withMag = base
        withMag.magMatrix = r.magMatrix
        let truthCTF = try CTF(base), calibrated = try CTF(withMag)
        let naive = try CTF(base)
        var worst = 0.0, worstNaive = 0.0
        for k in 0..<400 {
            let angle = Double(k) * 0.9 * Double.pi / 180
            let nu = 0.5 * Double(k % 100 + 1) / 100 * p / 2.9   // up to 1/2.9 Å⁻¹
            let nx = nu * cos(angle), ny = nu * sin(angle)       // cycles per pixel
            let qx = (d.m00 * nx + d.m10 * ny) / t, qy = (d.m01 * nx + d.m11 * ny) / t
            worst = max(worst, abs(calibrated.value(x: nx / p, y: ny / p) - truthCTF.value(x: qx, y: qy)))
            worstNaive = max(worstNaive, abs(naive.value(x: nx / p, y: ny / p) - truthCTF.value(x: qx, y: qy)))
        }
        print(String(format: "SIMULATED seed %llu: CTF with the calibrated rlnMagMat vs the true CTF, up to 2.9 Å: largest difference %.4f", seed, worst))
        #expect(worst < 0.05, "seed \(seed): CTF differs by \(worst)")
        // Without the matrix (the nominal pixel size taken as true) the same CTF is far off.
        #expect(worstNaive > 0.3, "the round-trip CTF check must be sensitive (difference without the matrix \(worstNaive))")

        // MotionCor2's -Mag: it stretches the frames by major/minor along the axis at −angle (its
        // angle argument negated, see docs/calibrate-rings.md) in array coordinates and leaves the
        // perpendicular axis alone. Applied after the detector's D, the stretch must leave an
        // isotropic image, whose pixel size is -PixSize / major.
        let mc = r.motionCor2
        #expect(abs(mc.major * mc.minor - 1) < 1e-9)
        let phi = -mc.angle * Double.pi / 180
        let stretch = mc.major / mc.minor
        let c = cos(phi), s = sin(phi)
        let sm = Matrix2x2(1 + (stretch - 1) * c * c, (stretch - 1) * c * s, (stretch - 1) * c * s, 1 + (stretch - 1) * s * s)
        let corrected = sm * d   // specimen (Å, ÷ t) → corrected image pixels
        let iso = (corrected.m00 + corrected.m11) / 2
        let residual = max(abs(corrected.m00 - iso), abs(corrected.m11 - iso), abs(corrected.m01), abs(corrected.m10)) / iso
        print(String(format: "SIMULATED seed %llu: MotionCor2 %@ leaves an anisotropy of %.4f %%; output pixel size %.5f (truth %.5f)",
                     seed, mc.arguments, residual * 100, mc.pixelSize / mc.major, t / iso))
        #expect(residual < 0.001, "seed \(seed): -Mag \(mc.arguments) leaves \(residual * 100) % anisotropy")
        // With the angle's sign flipped, the stretch would make it worse: the test can tell.
        let cw = cos(-phi), sw = sin(-phi)
        let wrong = Matrix2x2(1 + (stretch - 1) * cw * cw, (stretch - 1) * cw * sw, (stretch - 1) * cw * sw, 1 + (stretch - 1) * sw * sw) * d
        let wiso = (wrong.m00 + wrong.m11) / 2
        #expect(max(abs(wrong.m00 - wiso), abs(wrong.m11 - wiso), abs(wrong.m01), abs(wrong.m10)) / wiso > 0.005)
        #expect(abs(mc.pixelSize / mc.major / (t / iso) - 1) < 0.0005, "seed \(seed): MotionCor2's output pixel size")

        // The plots: the spectrum with the ellipses, and both rings' profiles, sharper after the
        // correction (a higher peak).
        let svg = RingsPlots.spectrumSVG(detail, result: r)
        #expect(svg.hasPrefix("<svg") && svg.contains("<polyline") && svg.contains("<circle") && svg.utf8.count < 1_500_000)
        for (i, ring) in detail.rings.enumerated() where ring.used {
            let (before, after) = RingsPlots.profiles(detail, result: r, ring: i)
            let peakBefore = before.map(\.1).max() ?? 0, peakAfter = after.map(\.1).max() ?? 0
            print(String(format: "SIMULATED seed %llu: ring %@ profile peak %.3f before, %.3f after the correction", seed, ring.ring.label, peakBefore, peakAfter))
            #expect(peakAfter > peakBefore, "seed \(seed): ring \(ring.ring.label) not sharper after the correction")
            #expect(RingsPlots.profilePlot(detail, result: r, ring: i).svg().contains("after (fitted rlnMagMat)"))
        }
    }

    @Test func testNoDistortionGivesNoSignificantAnisotropy() throws {
        let seed: UInt64 = 4242
        let t = 0.83
        let images = try simulateImages(count: 6, size: 2048, truePixelSize: t, distortion: .identity, seed: seed)
        let (r, _) = try RingsCalibration.run(images: images, standard: .gold, nominalPixelSize: t)
        let pixelError = (r.pixelSize.value / t - 1) * 100
        print(String(format: "SIMULATED seed %llu: no distortion: pixel size error %+.4f %%, anisotropy %.4f %% ± %.4f",
                     seed, pixelError, r.anisotropyPercent.value, r.anisotropyPercent.fitError))
        // The tolerances (asserted on 6 × 2048², 3/20 of its 10 × 4096²).
        #expect(r.anisotropyPercent.value < 0.05, "seed \(seed): anisotropy \(r.anisotropyPercent.value) %")
        #expect(abs(pixelError) < 0.05, "seed \(seed): pixel size error \(pixelError) %")
        #expect(!r.anisotropySignificant, "seed \(seed)")
    }

    @Test func testCompositionOrderIsExistingTimesNew() {
        let existing = Matrix2x2(1.01, 0.02, -0.03, 0.99)
        let new = Matrix2x2(1.004, 0.003, 0.003, 0.996)
        let total = MagnificationWriter.compose(existing: existing, new: new)
        let k = (0.31, -0.17)
        let direct = existing.apply(new.apply(k.0, k.1).x, new.apply(k.0, k.1).y)
        let viaTotal = total.apply(k.0, k.1)
        #expect(abs(direct.x - viaTotal.x) < 1e-12 && abs(direct.y - viaTotal.y) < 1e-12)
        let reverse = new * existing
        #expect(abs(reverse.apply(k.0, k.1).x - direct.x) > 1e-5, "the test matrices must not commute")
    }

    @Test func testStandardsHaveTheCitedSpacings() throws {
        let gold = DiffractionStandard.gold.rings
        #expect(abs(gold[0].spacing - 2.3546) < 1e-4 && abs(gold[1].spacing - 2.0391) < 1e-4)
        let graphene = DiffractionStandard.graphene.rings
        #expect(abs(graphene[0].spacing - 2.1304) < 1e-4 && abs(graphene[1].spacing - 1.23) < 1e-4)
        #expect(DiffractionStandard.ice.rings.map(\.spacing) == [3.661])
        #expect(try DiffractionStandard.named("2.5").rings[0].spacing == 2.5)
        #expect(throws: RingsError.self) { try DiffractionStandard.named("copper") }
    }
}
