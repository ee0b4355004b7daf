// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix refine aberrations` and `angpix refine defocus` beside relion_ctf_refine (RELION 3.1.3)
// --fit_aberr/--fit_beamtilt and --fit_defocus, on the same small project made by the independent
// simulator (`angpix simulate particles`'s ParticleSetSimulation: projection at the true pixel size,
// the CTF on a field larger than the box, nearly noise-free) and against its truth.json. Both
// programs get the noise-free map (Reference/truth.mrc) as both half maps, so what is compared
// is the two methods, not the half maps' noise. Every figure is printed (`measured:` lines);
// the tolerances sit just above what was measured (see each test).

import Foundation
import Testing
import AngpixCore
import AngpixSTAR
import AngpixOptics
import AngpixSimulation
import AngpixTestSupport
@testable import AngpixRefine

@Suite(.serialized) struct RelionAberrationDefocusTests {
    static let lambda = electronWavelength(kilovolts: 300)

    /// A project of a random blob map (48³ at 1 Å) with `groups`, written into `dir`/project.
    static func project(in dir: TemporaryDirectory, groups: [SimulatedOpticsGroup], seed: UInt64) throws
        -> (folder: String, truth: ParticleSetTruth) {
        var rng = SplitMix64(seed: seed)
        let map = BlobObject.random(rng: &rng).map(box: 48, pixelSize: 1.0)
        let folder = dir.file("project")
        let start = Date()
        let (_, truth) = try ParticleSetSimulation(reference: ReferenceVolume(size: 48, truePixelSize: 1.0, data: map.data),
                                                   groups: groups, seed: seed).write(to: folder, policy: OutputPolicy())
        printMeasured("simulating the project (s)", Date().timeIntervalSince(start))
        return (folder, truth)
    }

    /// A nearly noise-free group of `particles` 128² particles at 1 Å (defocus 0.5–0.8 µm). At
    /// 64² both programs miss the truth the same way: the CTF delocalises 2–3 Å signal by up to
    /// 70 Å at these defoci, beyond a 64 Å box, and neither models the boxing (measured: RELION and
    /// angpix both find a beam tilt of 0.460 mrad for 0.5, and Z40 6.3 in a group without any, on
    /// 200 particles a group).
    static func group(_ name: String, particles: Int, perMicrograph: Int) -> SimulatedOpticsGroup {
        var g = SimulatedOpticsGroup(name: name, nominalPixelSize: 1.0, boxSize: 128, particleCount: particles)
        g.particlesPerMicrograph = perMicrograph
        g.snr = 1e4
        g.defocusMin = 5000; g.defocusMax = 8000
        return g
    }

    /// The reference both programs use: the noise-free map as both halves, the FSC of the
    /// simulated (noisy) half maps for the weights. angpix runs with --no-ctf-pad: the CTF on the
    /// box's own grid, RELION's model without --ctf_pad, so that the two compute the same thing
    /// (angpix's default, the CTF applied before boxing, is tested against the truth in
    /// NoisyParticleSetTests).
    static let relionReference = ["--m1", "Reference/truth.mrc", "--m2", "Reference/truth.mrc"]
    static let angpixReference = ["--half1", "Reference/truth.mrc", "--half2", "Reference/truth.mrc",
                                  "--fsc", "PostProcess/postprocess.star", "--no-ctf-pad"]

    static func runAngpixTimed(_ what: String, _ arguments: [String], cwd: String) throws {
        let start = Date()
        let r = try runAngpix(arguments, cwd: cwd)
        try #require(r.status == 0, "angpix \(arguments.joined(separator: " ")): \(r.stderr)")
        printMeasured("\(what) (s)", Date().timeIntervalSince(start))
    }

    static func maxAbs(_ a: [Double], _ b: [Double], indices: [Int]) -> Double {
        indices.map { abs((a.count > $0 ? a[$0] : 0) - (b.count > $0 ? b[$0] : 0)) }.max() ?? 0
    }

    /// Aberrations. Group 1 has a Cs error (true Cs 2.7/1.02⁴ under a written 2.7 mm: the Z40 of
    /// a 2 % pixel-size error, −4.11, with its Z20 and Z00 parts, together a pure |k|⁴ term), a
    /// beam tilt of (0.5, −0.3) mrad and trefoil (Z3−3 = 4, Z33 = −3); group 2 is clean. In
    /// RELION 3.1.3, --fit_aberr fits only the even terms (up to --even_aberr_max_n, default 4);
    /// the odd terms and the tilt are --fit_beamtilt's, up to --odd_aberr_max_n (default 0: the
    /// tilt alone). Two runs each, as a RELION user would make them, odd terms first:
    ///   1. `relion_ctf_refine --fit_beamtilt --odd_aberr_max_n 3 --j 1` and
    ///      `angpix refine aberrations --no-even` on particles.star;
    ///   2. `relion_ctf_refine --fit_aberr --j 1` and `angpix refine aberrations --no-odd`, each on
    ///      its own first run's output.
    /// Both programs predict the even fit's data with the current odd phase (RELION's predictions
    /// for the aberration estimator apply the tilt; angpix's sums carry the odd phasor), so the
    /// second run sees the tilt found by the first. In ONE run with both fits the even fit has no
    /// odd phase to go on: a 0.5 mrad tilt turns the phase at 2.2 Å by about 3 rad, Re(y f̄)
    /// changes sign there, and both programs' even fits fail alike (measured on the built-in model,
    /// 128²: Z2−2 −38.6 (RELION) and −39.0 (angpix), truth 0), while the odd fit is unaffected.
    ///
    /// No convention differs (RELION 3.1's aberration_estimator.cpp, tilt_helper.cpp): Zernike
    /// terms in RELION's order at M·k in 1/Å, the tilt taken out of Z3±1 with s = Cs·20000·λ²·π
    /// and Z1±1 compensated (extractTilt). RELION fits the total from predictions without the
    /// current even terms and writes it; angpix fits a change on the current terms; from a file
    /// without even terms the two are the same fit. The odd fits are the same computation. The even
    /// fits' refinements differ on purpose: RELION minimises Σ w eᵀ A e, e = (cos φ − u, sin φ − v),
    /// which compares a unit phasor with each pixel's (u, v), whose length is the ratio of the
    /// images' amplitude to the prediction's; where that is not 1 (a group dimmer than the
    /// reference, signal lost to boxing, a noisy half map) and A is anisotropic, its minimum moves
    /// off the true phase (with a clean group 3.4 % dimmer than the reference, RELION found
    /// Z40 −0.07 where there is none). angpix leaves each pixel its own amplitude and fits only the
    /// phases (EvenAberrationEstimator.swift; its effect on noisy sets is in NoisyParticleSetTests).
    ///
    /// Measured 2026-12-01 (seed 31, 2 × 150 particles of 128², angpix with --no-ctf-pad, RELION's
    /// model of the CTF): RELION vs angpix |ΔZ40| ≤ 2.6e-3 (of −4.108), other even terms ≤ 0.024
    /// (the two costs), beam tilt ≤ 2e-6 mrad, odd terms ≤ 8.4e-6 (the same computation); against
    /// the truth RELION |ΔZ40| 2.1e-3 / 1.9e-3, angpix 7.6e-4 / 9.6e-4, other even terms RELION
    /// ≤ 0.021, angpix ≤ 0.0094, tilt ≤ 1.5e-4 mrad, odd terms ≤ 2.5e-3 (both).
    @Test(.enabled(if: Relion.has("relion_ctf_refine"), Comment(rawValue: Relion.missing("relion_ctf_refine"))))
    func aberrationsAgreeWithRelionCtfRefine() throws {
        let seed: UInt64 = 31
        let dir = TemporaryDirectory("relion-aberr")
        var g1 = Self.group("aberrated", particles: 150, perMicrograph: 50)
        g1.trueSphericalAberration = 2.7 / pow(1.02, 4)
        g1.beamTiltX = 0.5; g1.beamTiltY = -0.3
        g1.oddZernike = [0, 0, 4, 0, 0, -3]
        var g2 = Self.group("clean", particles: 150, perMicrograph: 50)
        // The first group's noise level (the same dose), so that both groups' images have the
        // amplitude the reference predicts (with its own SNR group 2's are 3.4 % weaker: see above).
        g2.snr = nil
        let (folder, truth) = try Self.project(in: dir, groups: [g1, g2], seed: seed)

        let relion1 = try runRelionCtfRefine(in: folder, postprocess: "PostProcess/postprocess.star", output: "Relion1",
                                             Self.relionReference + ["--fit_beamtilt", "--odd_aberr_max_n", "3", "--j", "1"])
        printMeasured("relion_ctf_refine --fit_beamtilt --odd_aberr_max_n 3 (s)", relion1.seconds)
        let relion2 = try runRelionCtfRefine(in: folder, particles: "Relion1/particles_ctf_refine.star",
                                             postprocess: "PostProcess/postprocess.star", output: "Relion2",
                                             Self.relionReference + ["--fit_aberr", "--j", "1"])
        printMeasured("relion_ctf_refine --fit_aberr (s)", relion2.seconds)
        try Self.runAngpixTimed("angpix refine aberrations --no-even",
                                ["refine", "aberrations", "particles.star", "-o", "Angpix1", "--no-even"] + Self.angpixReference, cwd: folder)
        try Self.runAngpixTimed("angpix refine aberrations --no-odd",
                                ["refine", "aberrations", "Angpix1/particles.star", "-o", "Angpix2", "--no-odd"] + Self.angpixReference, cwd: folder)
        let theirs = relion2.particles.optics.groups
        let ours = try RefineParticles(path: folder + "/Angpix2/particles.star").optics.groups
        try #require(theirs.count == 2 && ours.count == 2)

        for gi in 0..<2 {
            let name = "seed \(seed), group \(gi + 1) (\(truth.groups[gi].settings.name))"
            let t = truth.groups[gi]
            let trueEven = t.expectedEvenZernike
            let trueOdd = BeamTilt.extract(from: t.expectedOddZernike, sphericalAberration: 2.7, wavelength: Self.lambda).remaining
            let r = theirs[gi], a = ours[gi]
            func tilt(_ g: OpticsGroup, _ label: String) -> Double { Double(g.values[label] ?? "0") ?? .nan }
            let (rtx, rty) = (tilt(r, "rlnBeamTiltX"), tilt(r, "rlnBeamTiltY"))
            let (atx, aty) = (tilt(a, "rlnBeamTiltX"), tilt(a, "rlnBeamTiltY"))
            let even = Array(0..<9), others = even.filter { $0 != Zernike.z40Index }, oddTerms = [0, 1, 2, 5]
            func z40(_ c: [Double]) -> Double { c.count > Zernike.z40Index ? c[Zernike.z40Index] : 0 }
            print("measured: \(name): rlnEvenZernike RELION \(r.evenZernike.map { String(format: "%.4f", $0) }), angpix \(a.evenZernike.map { String(format: "%.4f", $0) }), truth \(trueEven.map { String(format: "%.4f", $0) })")
            print("measured: \(name): rlnOddZernike RELION \(r.oddZernike.map { String(format: "%.4f", $0) }), angpix \(a.oddZernike.map { String(format: "%.4f", $0) }), truth \(trueOdd.map { String(format: "%.4f", $0) })")
            print("measured: \(name): beam tilt (mrad) RELION (\(rtx), \(rty)), angpix (\(atx), \(aty)), truth (\(t.expectedBeamTiltX), \(t.expectedBeamTiltY))")
            let dZ40 = (ra: abs(z40(r.evenZernike) - z40(a.evenZernike)),
                        rt: abs(z40(r.evenZernike) - z40(trueEven)), at: abs(z40(a.evenZernike) - z40(trueEven)))
            let dEven = (ra: Self.maxAbs(r.evenZernike, a.evenZernike, indices: others),
                         rt: Self.maxAbs(r.evenZernike, trueEven, indices: others), at: Self.maxAbs(a.evenZernike, trueEven, indices: others))
            let dTilt = (ra: max(abs(rtx - atx), abs(rty - aty)),
                         rt: max(abs(rtx - t.expectedBeamTiltX), abs(rty - t.expectedBeamTiltY)),
                         at: max(abs(atx - t.expectedBeamTiltX), abs(aty - t.expectedBeamTiltY)))
            let dOdd = (ra: Self.maxAbs(r.oddZernike, a.oddZernike, indices: oddTerms),
                        rt: Self.maxAbs(r.oddZernike, trueOdd, indices: oddTerms), at: Self.maxAbs(a.oddZernike, trueOdd, indices: oddTerms))
            // Tolerances about twice the largest of the two groups' measured values (see above).
            for (what, d, tolerance) in [("|ΔZ40|", dZ40, (ra: 5e-3, truth: 4e-3)),
                                         ("max |Δ| other even terms", dEven, (ra: 0.04, truth: 0.04)),
                                         ("max |Δ beam tilt| (mrad)", dTilt, (ra: 1e-5, truth: 3e-4)),
                                         ("max |Δ| odd terms Z1±1, Z3±3", dOdd, (ra: 2e-5, truth: 5e-3))] {
                print("measured: \(name): RELION vs angpix: \(what) = \(String(format: "%.2e", d.ra)) (tolerance \(tolerance.ra))")
                print("measured: \(name): RELION vs truth: \(what) = \(String(format: "%.2e", d.rt)) (tolerance \(tolerance.truth))")
                print("measured: \(name): angpix vs truth: \(what) = \(String(format: "%.2e", d.at)) (tolerance \(tolerance.truth))")
                #expect(d.ra < tolerance.ra, "\(name): RELION vs angpix \(what) = \(d.ra)")
                #expect(d.rt < tolerance.truth, "\(name): RELION vs truth \(what) = \(d.rt)")
                #expect(d.at < tolerance.truth, "\(name): angpix vs truth \(what) = \(d.at)")
            }
        }
    }

    /// Defocus. One group of 60 particles in 3 micrographs (one astigmatism per micrograph, each
    /// particle its own height), the STAR file's defocus perturbed per particle by Gaussian errors
    /// of σ 200 Å on rlnDefocusU and rlnDefocusV. `relion_ctf_refine --fit_defocus --j 2` (its
    /// default --fit_mode fpmfm: per-particle defocus, per-micrograph astigmatism, phase shift, Cs
    /// and B-factor fixed; --kmin_defocus 30) against `angpix refine defocus` (the same model by
    /// default, --kmin 30). The per-particle defocus is compared as its mean (U + V)/2 and its
    /// astigmatism as the vector (U − V)/2 · (cos 2θ, sin 2θ), so that no angle wraps.
    ///
    /// Measured 2026-12-01 (seed 32; the input 147 Å RMS from the truth in the mean defocus, 152 Å
    /// in the astigmatism): RELION vs angpix 0.119 Å RMS in the mean defocus and 0.113 Å in the
    /// astigmatism; RELION vs truth 0.160 and 0.136 Å; angpix vs truth 0.107 and 0.045 Å (on 100
    /// particles in 4 micrographs: 0.128 and 0.235, 0.164 and 0.264, 0.109 and 0.049 Å). On 200
    /// particles of 64² (the CTF's delocalisation beyond the box, as above) they were 2.6 and 0.6 Å apart, and 5.9
    /// (RELION) and 8.3 Å (angpix) from the truth in the mean defocus.
    @Test(.enabled(if: Relion.has("relion_ctf_refine"), Comment(rawValue: Relion.missing("relion_ctf_refine"))))
    func defocusAgreesWithRelionCtfRefine() throws {
        let seed: UInt64 = 32
        let dir = TemporaryDirectory("relion-defocus")
        var g = Self.group("defocus", particles: 60, perMicrograph: 20)
        g.defocusError = 200
        let (folder, truth) = try Self.project(in: dir, groups: [g], seed: seed)

        let relion = try runRelionCtfRefine(in: folder, postprocess: "PostProcess/postprocess.star",
                                            Self.relionReference + ["--fit_defocus", "--j", "2"])
        printMeasured("relion_ctf_refine --fit_defocus (s)", relion.seconds)
        try Self.runAngpixTimed("angpix refine defocus", ["refine", "defocus", "particles.star", "-o", "Angpix", "-j", "2"] + Self.angpixReference,
                                cwd: folder)
        let input = try RefineParticles(path: folder + "/particles.star")
        let theirs = try RefineParticles(file: relion.particles)
        let ours = try RefineParticles(path: folder + "/Angpix/particles.star")
        // The defocus as (mean, (U − V)/2 cos 2θ, (U − V)/2 sin 2θ): no angle wraps.
        func parts(_ u: Double, _ v: Double, _ angle: Double) -> [Double] {
            let h = (u - v) / 2, t = 2 * angle * Double.pi / 180
            return [(u + v) / 2, h * cos(t), h * sin(t)]
        }
        var byImage: [ImageName: (r: [Double], a: [Double])] = [:]
        for rec in theirs.records { byImage[rec.image, default: ([], [])].r = parts(rec.defocusU, rec.defocusV, rec.defocusAngle) }
        for rec in ours.records { byImage[rec.image, default: ([], [])].a = parts(rec.defocusU, rec.defocusV, rec.defocusAngle) }
        try #require(theirs.records.count == 60 && ours.records.count == 60 && input.records.count == 60)
        var sq = (before: [0.0, 0.0], ra: [0.0, 0.0], rt: [0.0, 0.0], at: [0.0, 0.0])
        for rec in input.records {
            let p = truth.particles[rec.row]
            let t = parts(p.nominalDefocusU, p.nominalDefocusV, p.nominalDefocusAngle)
            let given = parts(rec.defocusU, rec.defocusV, rec.defocusAngle)
            let found = try #require(byImage[rec.image], "seed \(seed): particle \(rec.row + 1) missing from an output")
            try #require(found.r.count == 3 && found.a.count == 3, "seed \(seed): particle \(rec.row + 1) missing from an output")
            func add(_ s: inout [Double], _ x: [Double], _ y: [Double]) {
                s[0] += (x[0] - y[0]) * (x[0] - y[0])
                s[1] += (x[1] - y[1]) * (x[1] - y[1]) + (x[2] - y[2]) * (x[2] - y[2])
            }
            add(&sq.before, given, t); add(&sq.ra, found.r, found.a); add(&sq.rt, found.r, t); add(&sq.at, found.a, t)
        }
        let n = Double(input.records.count)
        func rms(_ s: [Double]) -> (defocus: Double, astigmatism: Double) { ((s[0] / n).squareRoot(), (s[1] / n).squareRoot()) }
        let (before, ra, rt, at) = (rms(sq.before), rms(sq.ra), rms(sq.rt), rms(sq.at))
        let name = "seed \(seed)"
        printMeasured("\(name): input vs truth RMS mean defocus (Å)", before.defocus)
        printMeasured("\(name): input vs truth RMS astigmatism vector (Å)", before.astigmatism)
        #expect(before.defocus > 100 && before.astigmatism > 100, "\(name): the input's defocus errors")
        // Tolerances about twice what was measured (see above).
        for (what, d, tolerance) in [("RELION vs angpix", ra, (defocus: 0.25, astigmatism: 0.25)),
                                     ("RELION vs truth", rt, (defocus: 0.3, astigmatism: 0.3)),
                                     ("angpix vs truth", at, (defocus: 0.2, astigmatism: 0.1))] {
            print("measured: \(name): \(what): RMS mean defocus = \(String(format: "%.3f", d.defocus)) Å (tolerance \(tolerance.defocus))")
            print("measured: \(name): \(what): RMS astigmatism vector = \(String(format: "%.3f", d.astigmatism)) Å (tolerance \(tolerance.astigmatism))")
            #expect(d.defocus < tolerance.defocus, "\(name): \(what): RMS mean defocus \(d.defocus) Å")
            #expect(d.astigmatism < tolerance.astigmatism, "\(name): \(what): RMS astigmatism vector \(d.astigmatism) Å")
        }
    }
}
