// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The refinements on particles as a facility's data set looks to them: made by the independent
// simulator (`angpix simulate particles`: projection at the true pixel size, the CTF on a field
// larger than the box and then boxed, the detector's distortion, noise), 2,000 particles per
// optics group at SNR 0.1, half maps whose (unmasked) FSC crosses 0.143 at 3 Å, run through the
// command line with the default settings, and checked against truth.json to the tolerances the
// issue asks for: a 2 % pixel-size error within 0.05 %, a 1.5 % anisotropy within 0.15 points and
// 3°, no distortion reported where there is none (< 0.05 %), the Z40 of a Cs error worth a 2 %
// pixel-size error within 5 % (so that `calibrate zernike` gives the pixel size within 0.1 %), the
// beam tilt within 0.05 mrad, the per-particle defocus within 50 Å RMS.

import Foundation
import Testing
import AngpixCore
import AngpixSTAR
import AngpixOptics
import AngpixSimulation
import AngpixTestSupport
@testable import AngpixRefine

@Suite(.serialized) struct NoisyParticleSetTests {
    /// `angpix simulate particles` into `dir`/project with `arguments`; the truth it wrote.
    static func simulate(_ dir: TemporaryDirectory, _ arguments: [String]) throws -> (folder: String, truth: ParticleSetTruth) {
        let folder = dir.file("project")
        let start = Date()
        let r = try runAngpix(["simulate", "particles", "--builtin-model", "-o", folder, "--particles", "2000", "--snr", "0.1",
                               "--half-map-resolution", "3"] + arguments)
        try #require(r.status == 0, "\(r.stderr)")
        printMeasured("simulating \(arguments.joined(separator: " ")) (s)", Date().timeIntervalSince(start))
        let truth = try JSONDecoder().decode(ParticleSetTruth.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/truth.json")))
        return (folder, truth)
    }

    static func run(_ arguments: [String], in folder: String) throws -> String {
        let start = Date()
        let r = try runAngpix(arguments, cwd: folder)
        try #require(r.status == 0, "\(r.stderr)")
        printMeasured("angpix \(arguments.prefix(3).joined(separator: " ")) (s)", Date().timeIntervalSince(start))
        return r.stdout
    }

    static func json<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Each particle's defocus error (Å) against the truth: the mean of U and V plus the defocus the
    /// group's even terms hold (their isotropic k² part, 2 Z20 − 6 Z40, which the aberration fit
    /// may take from the defocus), minus the defocus a complete refinement ends with.
    static func defocusErrors(_ star: String, truth: ParticleSetTruth) throws -> [Int: [Double]] {
        let p = try RefineParticles(path: star)
        var out: [Int: [Double]] = [:]
        for r in p.records {
            let g = p.optics.groups[r.groupIndex]
            let z = g.evenZernike + [Double](repeating: 0, count: 9)
            let lambda = electronWavelength(kilovolts: g.voltage)
            let held = (2 * z[2] - 6 * z[6]) / (Double.pi * lambda)
            let t = truth.particles[r.row]
            out[g.number, default: []].append((r.defocusU + r.defocusV) / 2 - held - (t.expectedDefocusU + t.expectedDefocusV) / 2)
        }
        return out
    }

    static func rms(_ v: [Double]) -> Double { (v.map { $0 * $0 }.reduce(0, +) / Double(max(1, v.count))).squareRoot() }

    /// The reference text's merged data sets: three optics groups under one nominal 1.00 Å, one
    /// truly at 1.02 Å, one with a 1.5 % anisotropy at 30°, one as the reference.
    /// Measured 2026-12-01 (seed 11): 1.01982 Å ± 0.00009; 1.549 % at −60.2° (truth 1.511 % at −60°);
    /// the reference group 1.00002 Å, 0.024 %; the anisotropic group's pixel size 0.99989 Å.
    @Test func mergedDataSetsAtSNR01() throws {
        let dir = TemporaryDirectory("noisy-magnification")
        let (folder, _) = try Self.simulate(dir, ["--seed", "11", "--group", "name=reference", "--group", "name=dataset2,true-angpix=1.02",
                                                  "--group", "name=dataset3,aniso=1.5,axis=30"])
        _ = try Self.run(["refine", "magnification", "particles.star", "--postprocess", "PostProcess/postprocess.star", "-o", "Refine"], in: folder)
        let s = try Self.json(MagnificationSummary.self, folder + "/Refine/refine.json")
        let (reference, big, aniso) = (s.groups[0], s.groups[1], s.groups[2])
        printMeasured("SNR 0.1: dataset2's pixel size (truth 1.0200 Å)", big.impliedPixelSize)
        printMeasured("SNR 0.1: dataset3's anisotropy % (truth 1.511)", aniso.anisotropyPercent)
        printMeasured("SNR 0.1: dataset3's axis ° (truth −60)", aniso.anisotropyAxisDegrees)
        printMeasured("SNR 0.1: dataset3's pixel size (truth 1.0000 Å)", aniso.impliedPixelSize)
        printMeasured("SNR 0.1: reference's pixel size (truth 1.0000 Å)", reference.impliedPixelSize)
        printMeasured("SNR 0.1: reference's anisotropy % (truth 0)", reference.anisotropyPercent)
        printMeasured("SNR 0.1: passes", Double(s.iterations))
        #expect(abs(big.impliedPixelSize - 1.02) < 0.0005)
        #expect(big.anisotropyPercent < 0.05)
        #expect(abs(aniso.anisotropyPercent - 1.511) < 0.15)
        #expect(abs(aniso.anisotropyAxisDegrees - -60) < 3)
        #expect(abs(aniso.impliedPixelSize - 1) < 0.0005)
        #expect(abs(reference.impliedPixelSize - 1) < 0.0005)
        #expect(reference.anisotropyPercent < 0.05)
    }

    /// A Cs error worth a 2 % pixel-size error (Cs 2.7 / 1.02⁴ truly, 2.7 written: Z40 −4.108) with a
    /// beam tilt of (0.5, −0.3) mrad in one group; a group without aberrations whose defocus is off
    /// by σ 100 Å per particle. `refine aberrations`, `calibrate zernike`, `refine defocus`.
    /// Measured 2026-12-01 (seed 12): Z40 −4.082 ± 0.077 → 1.0199 Å; tilt (0.502, −0.301) mrad;
    /// the clean group's Z40 −0.08 ± 0.11, tilt (−0.003, −0.002); defocus 70.1 → 16.5 Å RMS (clean
    /// group), 13.9 Å (the other, exact before).
    @Test func csErrorBeamTiltAndDefocusAtSNR01() throws {
        let dir = TemporaryDirectory("noisy-aberrations")
        let (folder, truth) = try Self.simulate(dir, ["--seed", "12", "--model-bfactor", "0",
                                                      "--group", "name=cs,true-cs=2.49437,beam-tilt-x=0.5,beam-tilt-y=-0.3",
                                                      "--group", "name=clean,defocus-error=100"])
        let common = ["--postprocess", "PostProcess/postprocess.star"]
        _ = try Self.run(["refine", "aberrations", "particles.star", "-o", "Aberrations"] + common, in: folder)
        let s = try Self.json(AberrationSummary.self, folder + "/Aberrations/refine.json")
        let cs = try #require(s.groups[0].even), tilt = try #require(s.groups[0].odd)
        let clean = try #require(s.groups[1].even), cleanTilt = try #require(s.groups[1].odd)
        let expected = truth.groups[0].expectedEvenZernike[6]
        printMeasured("SNR 0.1: Z40 (truth \(String(format: "%.3f", expected)))", cs.z40)
        printMeasured("SNR 0.1: Z40 standard error", cs.z40Error)
        printMeasured("SNR 0.1: beam tilt X (truth 0.5 mrad)", tilt.beamTiltX ?? .nan)
        printMeasured("SNR 0.1: beam tilt Y (truth −0.3 mrad)", tilt.beamTiltY ?? .nan)
        printMeasured("SNR 0.1: clean group's Z40 (truth 0)", clean.z40)
        #expect(abs(cs.z40 - expected) < 0.05 * abs(expected))
        #expect(abs((tilt.beamTiltX ?? .nan) - 0.5) < 0.05 && abs((tilt.beamTiltY ?? .nan) + 0.3) < 0.05)
        #expect(abs(cleanTilt.beamTiltX ?? .nan) < 0.05 && abs(cleanTilt.beamTiltY ?? .nan) < 0.05)
        #expect(abs(clean.z40) < 3 * clean.z40Error + 0.05 * abs(expected))
        // The pixel size Z40 gives with the trusted Cs: within 0.1 % of the 1.02 Å it is worth.
        let pixel = try #require(AberrationDefocusPipelineTests.calibratedPixelSizes("Aberrations/particles.star", cwd: folder).first)
        printMeasured("SNR 0.1: pixel size from Z40 (truth 1.0200 Å)", pixel)
        #expect(abs(pixel - 1.02) < 0.00102)

        _ = try Self.run(["refine", "defocus", "Aberrations/particles.star", "-o", "Defocus"] + common, in: folder)
        let before = try Self.defocusErrors(folder + "/particles.star", truth: truth)
        let after = try Self.defocusErrors(folder + "/Defocus/particles.star", truth: truth)
        printMeasured("SNR 0.1: clean group's defocus RMS error before (Å)", Self.rms(before[2] ?? []))
        printMeasured("SNR 0.1: clean group's defocus RMS error after (Å)", Self.rms(after[2] ?? []))
        printMeasured("SNR 0.1: Cs group's defocus RMS error after (Å)", Self.rms(after[1] ?? []))
        #expect(Self.rms(before[2] ?? []) > 60)
        #expect(Self.rms(after[2] ?? []) < 50 && Self.rms(after[1] ?? []) < 50)
    }

    /// The reference text's case: the whole data set at a nominal 1.00 Å that is truly 1.02 Å, its
    /// map refined from these particles (so labelled 1.00), CTFFIND's defocus fitted at the nominal
    /// pixel size with the file's Cs (it absorbed part of the error) and off by σ 100 Å per particle.
    /// The page's route: "first with Estimate 4th order aberrations to refine Cs, followed by another
    /// run for defocus"; Z40 with the trusted Cs gives the pixel size.
    /// Measured 2026-12-01 (seed 13): Z40 −4.263 ± 0.103 for −4.108 (+3.8 %) → 1.0208 Å; the
    /// defocus 74.4 Å RMS from the truth (mean 23.8 Å) before, 14.8 Å (mean −1.5 Å) after.
    @Test func pixelSizeErrorRouteAtSNR01() throws {
        let dir = TemporaryDirectory("noisy-route")
        let (folder, truth) = try Self.simulate(dir, ["--seed", "13", "--model-bfactor", "0", "--reference-angpix", "1.02",
                                                      "--reference-label", "1.0",
                                                      "--group", "name=route,true-angpix=1.02,defocus-frame=ctffind,defocus-error=100"])
        let common = ["--postprocess", "PostProcess/postprocess.star"]
        _ = try Self.run(["refine", "aberrations", "particles.star", "-o", "Aberrations", "--no-odd"] + common, in: folder)
        let s = try Self.json(AberrationSummary.self, folder + "/Aberrations/refine.json")
        let even = try #require(s.groups[0].even)
        let expected = truth.groups[0].expectedEvenZernike[6]
        printMeasured("SNR 0.1, 2 % pixel-size error: Z40 (truth \(String(format: "%.3f", expected)))", even.z40)
        #expect(abs(even.z40 - expected) < 0.05 * abs(expected))
        let pixel = try #require(AberrationDefocusPipelineTests.calibratedPixelSizes("Aberrations/particles.star", cwd: folder).first)
        printMeasured("SNR 0.1, 2 % pixel-size error: pixel size from Z40 (truth 1.0200 Å)", pixel)
        #expect(abs(pixel - 1.02) < 0.00102)
        _ = try Self.run(["refine", "defocus", "Aberrations/particles.star", "-o", "Defocus"] + common, in: folder)
        let before = try Self.defocusErrors(folder + "/particles.star", truth: truth)[1] ?? []
        let after = try Self.defocusErrors(folder + "/Defocus/particles.star", truth: truth)[1] ?? []
        let meanBefore = before.reduce(0, +) / Double(max(1, before.count)), meanAfter = after.reduce(0, +) / Double(max(1, after.count))
        printMeasured("SNR 0.1, 2 % pixel-size error: defocus RMS error before (Å)", Self.rms(before))
        printMeasured("SNR 0.1, 2 % pixel-size error: defocus mean error before (Å)", meanBefore)
        printMeasured("SNR 0.1, 2 % pixel-size error: defocus RMS error after (Å)", Self.rms(after))
        printMeasured("SNR 0.1, 2 % pixel-size error: defocus mean error after (Å)", meanAfter)
        #expect(Self.rms(after) < 50 && abs(meanAfter) < 10)
    }
}
