// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix refine aberrations` and `angpix refine defocus` end to end through files, on small
// simulated sets: a Cs error found as Z40 and turned into a pixel size by `calibrate zernike`, a
// beam tilt, a defocus offset, the reference text's route for a 2 % pixel-size error (aberrations,
// then defocus), shards against a single run, and bad input. The synthetic particles carry the
// CTF applied on their own box's grid (SyntheticParticleSet), so the fits run with --no-ctf-pad,
// the same model; particles with the CTF applied before boxing are NoisyParticleSetTests'.

import Foundation
import Testing
import AngpixCore
import AngpixSTAR
import AngpixOptics
import AngpixTestSupport
@testable import AngpixRefine

@Suite struct AberrationDefocusPipelineTests {
    static let lambda = electronWavelength(kilovolts: 300)

    /// The Z40 of a Cs error: (Cs_true − Cs_file) · π λ³ · 10⁷ / 12.
    static func z40(csTrue: Double, csFile: Double = 2.7) -> Double {
        (csTrue - csFile) * Double.pi * lambda * lambda * lambda * 1e7 / 12
    }

    static func summary<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// `calibrate zernike FILE --cs-true 2.7 --json`: each group's true pixel size.
    static func calibratedPixelSizes(_ star: String, cwd: String) throws -> [Double] {
        let r = try runAngpix(["calibrate", "zernike", star, "--cs-true", "2.7", "--json"], cwd: cwd)
        #expect(r.status == 0, "\(r.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let groups = json?["groups"] as? [[String: Any]] ?? []
        return groups.map { ($0["truePixelSize"] as? Double) ?? .nan }
    }

    @Test func csErrorAndBeamTiltThroughFilesAndCalibrateZernike() throws {
        let dir = TemporaryDirectory("refine-aberr-cli")
        // Group 1: Cs 2.7/1.02⁴ (a 2 % pixel-size error's Cs); group 2: beam tilt (0.5, −0.3) mrad.
        let csTrue = 2.7 / pow(1.02, 4)
        let tilt = BeamTilt.insert(tiltX: 0.5, tiltY: -0.3, into: [], sphericalAberration: 2.7, wavelength: Self.lambda)
        _ = try SyntheticParticleSet.make(in: dir.path, groups: [
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 40, trueCs: csTrue),
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 40, trueOddZernike: tilt)])
        let r = try runAngpix(["refine", "aberrations", "particles.star", "--postprocess", "postprocess.star", "--no-ctf-pad", "-o", "Aberr"], cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("optics group 1 (group1), 40 particles: Z40"), "\(r.stdout)")
        #expect(r.stdout.contains("beam tilt X"))
        let s = try Self.summary(AberrationSummary.self, dir.path + "/Aberr/refine.json")
        let g1 = try #require(s.groups[0].even), o2 = try #require(s.groups[1].odd)
        let expected = Self.z40(csTrue: csTrue)
        printMeasured("refine aberrations: Z40 (expected \(String(format: "%.4f", expected)))", g1.z40)
        printMeasured("refine aberrations: Z40 standard error", g1.z40Error)
        printMeasured("refine aberrations: beam tilt X (truth 0.5 mrad)", o2.beamTiltX ?? .nan)
        printMeasured("refine aberrations: beam tilt Y (truth −0.3 mrad)", o2.beamTiltY ?? .nan)
        #expect(abs(g1.z40 - expected) < 0.05 * abs(expected))
        #expect(g1.z40Significant)
        #expect(abs((o2.beamTiltX ?? .nan) - 0.5) < 0.05 && abs((o2.beamTiltY ?? .nan) + 0.3) < 0.05)
        // Group 2 has no Cs error, group 1 no tilt.
        #expect(abs(s.groups[1].even!.z40) < 0.05 * abs(expected))
        #expect(abs(s.groups[0].odd!.beamTiltX ?? .nan) < 0.05)
        // The written file: Z40 at index 6 and the tilt as rlnBeamTiltX/Y.
        let out = try RefineParticles(path: dir.path + "/Aberr/particles.star")
        #expect(out.optics.groups[0].evenZernike.count == 9 && abs(out.optics.groups[0].evenZernike[6] - g1.z40) < 1e-8)
        #expect(abs((Double(out.optics.groups[1].values["rlnBeamTiltX"] ?? "") ?? .nan) - 0.5) < 0.05)
        #expect(out.optics.groups[1].oddZernike.count == 6 && abs(out.optics.groups[1].oddZernike[4]) < 1e-12)
        #expect(FileManager.default.fileExists(atPath: dir.path + "/Aberr/aberrations_group1.svg"))
        // calibrate zernike on it: group 1's pixel size within 0.1 % of 1.02.
        let px = try Self.calibratedPixelSizes("Aberr/particles.star", cwd: dir.path)
        printMeasured("calibrate zernike on refine aberrations: pixel size (truth 1.02)", px.first ?? .nan)
        #expect(abs((px.first ?? .nan) - 1.02) < 0.00102)
        // Refining again from the written optics finds (almost) nothing left.
        let again = try runAngpix(["refine", "aberrations", "Aberr/particles.star", "--postprocess", "postprocess.star", "--no-ctf-pad", "-o", "Again"], cwd: dir.path)
        #expect(again.status == 0, "\(again.stderr)")
        let s2 = try Self.summary(AberrationSummary.self, dir.path + "/Again/refine.json")
        printMeasured("second pass: Z40 change", s2.groups[0].even!.delta[6])
        printMeasured("second pass: beam tilt X", s2.groups[1].odd!.beamTiltX ?? .nan)
        #expect(abs(s2.groups[0].even!.delta[6]) < 0.02 * abs(expected))
        #expect(abs((s2.groups[1].odd!.beamTiltX ?? .nan) - 0.5) < 0.05)
    }

    @Test func defocusOffsetIsRecovered() throws {
        let dir = TemporaryDirectory("refine-defocus-cli")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 40, defocusError: 300, micrographAstigmatism: true)])
        func rms(_ star: String) throws -> Double {
            let p = try RefineParticles(path: star)
            let sq = p.records.map { r in let e = (r.defocusU + r.defocusV) / 2 - set.trueDefocus[r.row]; return e * e }
            return (sq.reduce(0, +) / Double(sq.count)).squareRoot()
        }
        let before = try rms(set.star)
        let r = try runAngpix(["refine", "defocus", "particles.star", "--postprocess", "postprocess.star", "--no-ctf-pad", "-o", "Defocus"], cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("defocus change RMS"), "\(r.stdout)")
        let after = try rms(dir.path + "/Defocus/particles.star")
        printMeasured("refine defocus: RMS error before (Å)", before)
        printMeasured("refine defocus: RMS error after (Å)", after)
        #expect(before > 100)
        #expect(after < 50)
        let s = try Self.summary(DefocusSummary.self, dir.path + "/Defocus/refine.json")
        #expect(s.particles == 40 && s.rmsChange > 100)
        // Per-particle astigmatism works too.
        let pp = try runAngpix(["refine", "defocus", "particles.star", "--postprocess", "postprocess.star", "--no-ctf-pad", "-o", "PerParticle",
                                "--per-particle-astig"], cwd: dir.path)
        #expect(pp.status == 0, "\(pp.stderr)")
        let afterPP = try rms(dir.path + "/PerParticle/particles.star")
        printMeasured("refine defocus --per-particle-astig: RMS error after (Å)", afterPP)
        #expect(afterPP < 50)
    }

    @Test func pixelSizeErrorRouteAberrationsThenDefocus() throws {
        // Truly 1.02 Å/px, nominal 1.0: the reference (made from these particles) matches them,
        // the CTF sees k/1.02; CTFFIND's defocus, at the nominal pixel size, is Δf/1.02² ± 150 Å.
        let dir = TemporaryDirectory("refine-route")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 60, ctfMatrix: .scale(1 / 1.02),
                           fileDefocusScale: 1 / (1.02 * 1.02), defocusError: 150)])
        let nominalTruth = set.trueDefocus.map { $0 / (1.02 * 1.02) }
        func rms(_ star: String, offset: Double) throws -> Double {
            let p = try RefineParticles(path: star)
            let sq = p.records.map { r in let e = (r.defocusU + r.defocusV) / 2 - offset - nominalTruth[r.row]; return e * e }
            return (sq.reduce(0, +) / Double(sq.count)).squareRoot()
        }
        let common = ["--postprocess", "postprocess.star", "--keep-astig", "--no-ctf-pad"]
        // 0. Defocus refined without aberrations: it absorbs what it can of the error.
        var r = try runAngpix(["refine", "defocus", "particles.star", "-o", "D0"] + common, cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        // 1. Aberrations: Z40.
        r = try runAngpix(["refine", "aberrations", "D0/particles.star", "--postprocess", "postprocess.star", "-o", "A1", "--no-odd", "--no-ctf-pad"], cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let px = try Self.calibratedPixelSizes("A1/particles.star", cwd: dir.path)
        // 2. Defocus refitted with the aberrations.
        r = try runAngpix(["refine", "defocus", "A1/particles.star", "-o", "D2"] + common, cwd: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let z = try RefineParticles(path: dir.path + "/A1/particles.star").optics.groups[0].evenZernike
        // The Zernike terms' own ρ² part (2 Z20 − 6 Z40) acts as a defocus shared by the group.
        let shared = -(2 * z[2] - 6 * z[6]) / (Double.pi * Self.lambda)
        let absorbed = try rms(dir.path + "/D0/particles.star", offset: 0)
        let refit = try rms(dir.path + "/D2/particles.star", offset: -shared)
        printMeasured("route: Z40 (expected about \(String(format: "%.3f", Self.z40(csTrue: 2.7 / pow(1.02, 4)))))", z[6])
        printMeasured("route: calibrate zernike pixel size (truth 1.02)", px.first ?? .nan)
        printMeasured("route: defocus RMS vs nominal-frame truth, absorbed (Å)", absorbed)
        printMeasured("route: defocus RMS after aberrations and refit (Å)", refit)
        #expect(abs((px.first ?? .nan) - 1.02) < 0.00102)
        #expect(refit < 50 && refit < absorbed / 2)
    }

    @Test func shardsGiveTheSingleRun() throws {
        let dir = TemporaryDirectory("refine-aberr-shards")
        _ = try SyntheticParticleSet.make(in: dir.path, groups: [
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 30, trueCs: 2.5, defocusError: 200,
                           micrographAstigmatism: true),
            SyntheticGroup(box: 40, pixelSize: 1.2, trueMatrix: .identity, particles: 30,
                           trueOddZernike: BeamTilt.insert(tiltX: 0.3, tiltY: 0.2, into: [], sphericalAberration: 2.7, wavelength: Self.lambda))])
        for command in ["aberrations", "defocus"] {
            let common = ["refine", command, "particles.star", "--postprocess", "postprocess.star", "--no-ctf-pad"]
            // One pass, as the shards make (a rerun on the merged output makes the next).
            let onePass = command == "aberrations" ? ["--iterations", "1"] : []
            let single = try runAngpix(common + onePass + ["-o", "Single-\(command)"], cwd: dir.path)
            #expect(single.status == 0, "\(single.stderr)")
            for i in 1...3 {
                let r = try runAngpix(common + ["-o", "Sharded-\(command)", "--shard", "\(i)/3", "-j", "1"], cwd: dir.path)
                #expect(r.status == 0, "\(r.stderr)")
            }
            let merged = try runAngpix(["refine", command, "--merge", "Sharded-\(command)", "-o", "Sharded-\(command)"], cwd: dir.path)
            #expect(merged.status == 0, "\(merged.stderr)")
            let p1 = try RefineParticles(path: dir.path + "/Single-\(command)/particles.star")
            let p2 = try RefineParticles(path: dir.path + "/Sharded-\(command)/particles.star")
            #expect(p1.records.count == 60 && p2.records.count == 60)
            for (r1, r2) in zip(p1.records, p2.records) {
                #expect(abs(r1.defocusU - r2.defocusU) < 1e-3 && abs(r1.defocusV - r2.defocusV) < 1e-3)
            }
            for (g1, g2) in zip(p1.optics.groups, p2.optics.groups) {
                #expect(g1.evenZernike.count == g2.evenZernike.count && g1.oddZernike.count == g2.oddZernike.count)
                for (a, b) in zip(g1.evenZernike + g1.oddZernike, g2.evenZernike + g2.oddZernike) { #expect(abs(a - b) < 1e-5) }
                #expect(g1.values["rlnBeamTiltX"] == g2.values["rlnBeamTiltX"])
            }
            if command == "aberrations" {
                let a = try Self.summary(AberrationSummary.self, dir.path + "/Single-aberrations/refine.json")
                let b = try Self.summary(AberrationSummary.self, dir.path + "/Sharded-aberrations/refine.json")
                for (x, y) in zip(a.groups, b.groups) {
                    // The sums agree to rounding; the refinements stop within 1e-5 of each other.
                    for (u, v) in zip(x.even!.delta + x.odd!.delta, y.even!.delta + y.odd!.delta) { #expect(abs(u - v) < 1e-5) }
                }
            } else {
                let a = try Self.summary(DefocusSummary.self, dir.path + "/Single-defocus/refine.json")
                let b = try Self.summary(DefocusSummary.self, dir.path + "/Sharded-defocus/refine.json")
                #expect(abs(a.rmsChange - b.rmsChange) < 1e-6 && a.particles == b.particles)
            }
        }
        // A shard missing is named.
        try FileManager.default.removeItem(atPath: dir.path + "/Sharded-defocus/refine_shard003of003.json")
        let again = try runAngpix(["refine", "defocus", "--merge", "Sharded-defocus", "-o", "Merged2"], cwd: dir.path)
        #expect(again.status != 0 && again.stderr.contains("shards 3 of 3 are missing"), "\(again.stderr)")
    }

    @Test func badInputNamesTheLabelAndLeavesNoOutput() throws {
        let dir = TemporaryDirectory("refine-aberr-bad")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 4)])
        let text = try String(contentsOfFile: set.star, encoding: .utf8)
        _ = dir.write("broken.star", text.replacingOccurrences(of: "_rlnRandomSubset ", with: "_rlnSomethingElse "))
        for command in ["aberrations", "defocus"] {
            let r = try runAngpix(["refine", command, "broken.star", "--postprocess", "postprocess.star", "-o", "Out"], cwd: dir.path)
            #expect(r.status != 0)
            #expect(r.stderr.contains("broken.star") && r.stderr.contains("rlnRandomSubset") && r.stderr.contains("Refine3D"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/Out/particles.star"))
            #expect(!FileManager.default.fileExists(atPath: dir.path + "/Out/refine.json"))
        }
    }
}
