// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The reference text's "Merging datasets of different pixel sizes": CtfRefine's anisotropic
// magnification refinement finds each group's matrix relative to the reference, so a group whose
// nominal pixel size is 2 % too small must come out at 1.02 × nominal, a stretched detector at its
// anisotropy and axis, and an undistorted group at none.

import Foundation
import Testing
import AngpixCore
import AngpixFourier
import AngpixOptics
import AngpixTestSupport
@testable import AngpixRefine

/// Simulates `count` particles of one group against the truth and accumulates their sums with the
/// prediction at `current`; particle i always gets the same pose and noise (seeded by i).
func magnificationSums(truth: Matrix2x2, current: Matrix2x2, amplitude: Double, snr: Double?, count: Int,
                       seed: UInt64 = 1, range: Range<Int>? = nil) throws -> MagnificationSums {
    let molecule = SyntheticMolecule(seed: 7)
    let weights = bandWeights(boxSize: 64, pixelSize: 1)
    let grid = SpectrumGrid(opticsGroup: 1, boxSize: 64, pixelSize: 1)
    let indices = Array(range ?? 0..<count)
    let chunks = splitRange(indices.count, into: 8)
    nonisolated(unsafe) var parts = [MagnificationSums?](repeating: nil, count: chunks.count)
    nonisolated(unsafe) var failure: Error?
    parallelForEach(chunks.count) { c in
        do {
            var s = MagnificationSums(grid: grid)
            var table: TransferTable?
            for n in chunks[c] {
                let i = indices[n]
                var rng = SplitMix64(seed: seed &* 1_000_003 &+ UInt64(i))
                let defocus = 10000 + 8000 * rng.unit()
                let trueCTF = CTFParameters(defocusU: defocus + 150, defocusV: defocus - 150, defocusAngle: 20, magMatrix: truth)
                // The particle's defocus as the pipeline keeps it: fitted in the observed frame and
                // carried into each new matrix's coordinates (RELION's adaptAstigmatism), so that
                // only the Cs term still feels the wrong magnification.
                var particleCTF = trueCTF
                let carried = MagnificationEstimator.carryAstigmatism(
                    defocusU: trueCTF.defocusU, defocusV: trueCTF.defocusV, defocusAngle: trueCTF.defocusAngle,
                    change: current * truth.inverse!)
                particleCTF.defocusU = carried.defocusU; particleCTF.defocusV = carried.defocusV
                particleCTF.defocusAngle = carried.defocusAngle
                particleCTF.magMatrix = current
                let particle = SyntheticParticle(molecule: molecule, trueCTF: trueCTF, amplitude: amplitude, snr: snr)
                if table == nil { table = TransferTable(grid: grid, ctf: particleCTF) }
                try s.add(particle.observation(row: i, micrograph: "mic\(i / 20)", currentCTF: particleCTF, weights: weights,
                                               rng: &rng, gradients: true), weights: weights, table: table)
            }
            parts[c] = s
        } catch { failure = error }
    }
    if let failure { throw failure }
    var total = MagnificationSums(grid: grid)
    for p in parts { try total.merge(p!) }
    return total
}

/// Iterates the fit `passes` times from the identity (re-predicting at each new matrix).
func iterateMagnification(truth: Matrix2x2, amplitude: Double, snr: Double?, count: Int, passes: Int,
                          fitAmplitude: Bool = true, matchShells: Bool = true) throws -> [MagnificationEstimate] {
    var current = Matrix2x2.identity
    var out: [MagnificationEstimate] = []
    for _ in 0..<passes {
        let sums = try magnificationSums(truth: truth, current: current, amplitude: amplitude, snr: snr, count: count)
        let e = try MagnificationEstimator.solve(sums, previousMatrix: current, fitAmplitude: fitAmplitude,
                                                 matchShellAmplitudes: matchShells)
        out.append(e)
        current = e.matrix
    }
    return out
}

@Suite struct MagnificationEstimatorTests {
    @Test func decompositionFollowsTheRingsConventions() {
        // A 1.5 % anisotropy with the least magnification along 30°, isotropic scale 0.99.
        let m = MagnificationDecomposition.matrix(scale: 0.99, anisotropyPercent: 1.5, majorAxisAngle: 30)
        let d = MagnificationDecomposition(m)
        #expect(abs(d.isotropicScale - 0.99) < 1e-12)
        #expect(abs(d.anisotropyPercent - 1.5) < 1e-9)
        #expect(abs(d.majorAxisAngle - 30) < 1e-9)
        #expect(abs(d.relativePixelSize - 1 / 0.99) < 1e-12)
        // Along the major axis the magnification is smallest.
        let (x, y) = m.apply(cos(Double.pi / 6), sin(Double.pi / 6))
        #expect(abs((x * x + y * y).squareRoot() - m.singularValues.minor) < 1e-12)
    }

    @Test func twoPercentPixelSizeErrorIsFoundAfterIterating() throws {
        // Nominal 1.0 Å, truly 1.02 Å: the particles look smaller than the reference, M = 1/1.02,
        // and each pixel collects 1.02² more area (the amplitude RELION's model lacks).
        let truth = Matrix2x2.scale(1 / 1.02)
        let passes = try iterateMagnification(truth: truth, amplitude: 1.02 * 1.02, snr: 2, count: 200, passes: 4)
        let last = passes.last!
        let pixel = last.impliedPixelSize(nominal: 1.0)
        printMeasured("refine magnification: first pass relative pixel size", passes[0].decomposition.relativePixelSize)
        printMeasured("refine magnification: implied pixel size after 4 passes (truth 1.02)", pixel)
        printMeasured("refine magnification: its standard error", last.uncertainty.relativePixelSize)
        printMeasured("refine magnification: fitted amplitude (truth 1.0404)", last.amplitudeScale)
        #expect(abs(pixel - 1.02) / 1.02 < 0.0005)
        #expect(last.decomposition.anisotropyPercent < 0.05)
        #expect(last.uncertainty.relativePixelSize > 0 && last.uncertainty.relativePixelSize < 0.0005)
        // The first pass is a linearisation and gets most of the way.
        #expect(abs(passes[0].decomposition.relativePixelSize - 1) > 0.01)
    }

    @Test func withoutTheAmplitudeTheFitIsBiasedLikeRelions() throws {
        // Noise-free, the images carrying the pixel-area factor: with RELION's model (no amplitude,
        // no shell matching) the iteration converges off the truth; with the group's amplitude
        // modelled, or with the prediction matched to the data shell by shell, it lands on it.
        let truth = Matrix2x2.scale(1 / 1.02)
        let relion = try iterateMagnification(truth: truth, amplitude: 1.02 * 1.02, snr: nil, count: 40, passes: 5,
                                              fitAmplitude: false, matchShells: false)
        let amplitude = try iterateMagnification(truth: truth, amplitude: 1.02 * 1.02, snr: nil, count: 40, passes: 5,
                                                 matchShells: false)
        let shells = try iterateMagnification(truth: truth, amplitude: 1.02 * 1.02, snr: nil, count: 40, passes: 5,
                                              fitAmplitude: false)
        func error(_ e: [MagnificationEstimate]) -> Double { e.last!.decomposition.isotropicScale * 1.02 - 1 }
        printMeasured("refine magnification: noise-free scale error with amplitude (%)", error(amplitude) * 100)
        printMeasured("refine magnification: noise-free scale error with shell matching (%)", error(shells) * 100)
        printMeasured("refine magnification: noise-free scale error without either, RELION's model (%)", error(relion) * 100)
        #expect(abs(error(amplitude)) < 0.0001)
        #expect(abs(error(shells)) < 0.0001)
        #expect(abs(error(relion)) > 5 * max(abs(error(amplitude)), abs(error(shells))))
        #expect(abs(error(relion)) > 0.0002)
    }

    @Test func anisotropyAndItsAxisAreFound() throws {
        let truth = MagnificationDecomposition.matrix(scale: 1, anisotropyPercent: 1.5, majorAxisAngle: 30)
        let passes = try iterateMagnification(truth: truth, amplitude: 1 / truth.determinant, snr: 2, count: 200, passes: 3)
        let d = passes.last!.decomposition
        printMeasured("refine magnification: anisotropy % (truth 1.5)", d.anisotropyPercent)
        printMeasured("refine magnification: axis ° (truth 30)", d.majorAxisAngle)
        printMeasured("refine magnification: anisotropy standard error (points)", passes.last!.uncertainty.anisotropyPercent)
        #expect(abs(d.anisotropyPercent - 1.5) < 0.15)
        #expect(abs(d.majorAxisAngle - 30) < 3)
        #expect(abs(d.isotropicScale - 1) < 0.0005)
    }

    @Test func noDistortionIsReportedWhereThereIsNone() throws {
        // Two passes over 240 particles, each pass summed as two half sets and merged.
        var current = Matrix2x2.identity
        var halves: [MagnificationEstimate] = []
        var e: MagnificationEstimate!
        for _ in 0..<2 {
            let h1 = try magnificationSums(truth: .identity, current: current, amplitude: 1, snr: 5, count: 240, range: 0..<120)
            let h2 = try magnificationSums(truth: .identity, current: current, amplitude: 1, snr: 5, count: 240, range: 120..<240)
            e = try MagnificationEstimator.solve(h1 + h2, previousMatrix: current)
            halves = [try MagnificationEstimator.solve(h1, previousMatrix: current), try MagnificationEstimator.solve(h2, previousMatrix: current)]
            current = e.matrix
        }
        let spread = MagnificationUncertainty(halfSet: halves[0].decomposition, halves[1].decomposition)
        printMeasured("refine magnification: spurious anisotropy % on an undistorted group", e.decomposition.anisotropyPercent)
        printMeasured("refine magnification: its standard error", e.uncertainty.anisotropyPercent)
        printMeasured("refine magnification: relative pixel size error from the normal equations", e.uncertainty.relativePixelSize)
        printMeasured("refine magnification: relative pixel size error from the half sets", spread.relativePixelSize)
        #expect(e.decomposition.anisotropyPercent < 0.05)
        #expect(abs(e.decomposition.relativePixelSize - 1) < 0.0005)
        // The uncertainty covers the deviation (3σ), and the half sets agree to within the same.
        #expect(abs(e.decomposition.relativePixelSize - 1) < 3 * e.uncertainty.relativePixelSize)
        #expect(spread.relativePixelSize < 3 * e.uncertainty.relativePixelSize * 2.squareRoot())
    }

    @Test func shardSumsMergeToTheSingleRunsSums() throws {
        let truth = MagnificationDecomposition.matrix(scale: 0.99, anisotropyPercent: 1, majorAxisAngle: -20)
        let whole = try magnificationSums(truth: truth, current: .identity, amplitude: 1, snr: 0.3, count: 24)
        var merged = MagnificationSums(grid: whole.grid)
        for r in [0..<7, 7..<16, 16..<24] {
            let shard = try magnificationSums(truth: truth, current: .identity, amplitude: 1, snr: 0.3, count: 24, range: r)
            // Through JSON, as shards written by separate processes would be.
            let decoded = try JSONDecoder().decode(MagnificationSums.self, from: JSONEncoder().encode(shard))
            merged = merged + decoded
        }
        #expect(merged.particleCount == 24)
        let a = try MagnificationEstimator.solve(whole), b = try MagnificationEstimator.solve(merged)
        for (x, y) in zip([a.matrix.m00, a.matrix.m01, a.matrix.m10, a.matrix.m11, a.amplitudeScale],
                          [b.matrix.m00, b.matrix.m01, b.matrix.m10, b.matrix.m11, b.amplitudeScale]) {
            #expect(abs(x - y) < 1e-12)
        }
        for i in stride(from: 0, to: whole.axx.count, by: 97) {
            #expect(abs(whole.axx[i] - merged.axx[i]) <= 1e-12 * max(1, abs(whole.axx[i])))
            #expect(abs(whole.bf[i] - merged.bf[i]) <= 1e-12 * max(1, abs(whole.bf[i])))
        }
        // Sums of different groups refuse to merge.
        var other = MagnificationSums(grid: SpectrumGrid(opticsGroup: 2, boxSize: 64, pixelSize: 1))
        #expect(throws: EstimationError.self) { try other.merge(whole) }
    }

    @Test func perPixelAndFittedFieldsAreImages() throws {
        let truth = Matrix2x2.scale(1 / 1.01)
        let sums = try magnificationSums(truth: truth, current: .identity, amplitude: 1, snr: nil, count: 10)
        let e = try MagnificationEstimator.solve(sums)
        let observed = MagnificationEstimator.perPixelDisplacement(sums)
        let fitted = MagnificationEstimator.fittedDisplacement(e, grid: sums.grid)
        #expect(observed.x.count == sums.grid.count && fitted.y.count == sums.grid.count)
        // A shrinking matrix: the displacement points inwards (d = D k with D ≈ −1 %).
        let i = 10 // row 0, column 10: k = (10/64, 0) 1/Å
        #expect(fitted.x[i] < 0 && abs(fitted.y[i]) < 0.01 * abs(fitted.x[i]))
        #expect(e.displacementMatrix.m00 < -0.005)
    }

    @Test func aMicrographsAstigmatismIsCarriedAsRelionDoesByDefault() throws {
        let change = MagnificationDecomposition.matrix(scale: 0.98, anisotropyPercent: 1.5, majorAxisAngle: 30)
        // Particles sharing their astigmatism, the first at the micrograph's mean: it is carried
        // exactly; the others get the mean's carried astigmatism (an anisotropic change turns part
        // of each particle's own defocus into astigmatism, which RELION's default averages).
        let shared = [(12000.0, 11400.0, 20.0), (15000, 14400, 20), (9000, 8400, 20)]
        let carried = MagnificationEstimator.carryAstigmatism(micrograph: shared.map { ($0.0, $0.1, $0.2) }, change: change)
        let single = shared.map { MagnificationEstimator.carryAstigmatism(defocusU: $0.0, defocusV: $0.1, defocusAngle: $0.2, change: change) }
        #expect(abs(carried[0].defocusU - single[0].defocusU) < 1e-6 && abs(carried[0].defocusV - single[0].defocusV) < 1e-6)
        #expect(abs(carried[0].defocusAngle - single[0].defocusAngle) < 1e-6)
        for (c, s) in zip(carried, single) {
            #expect(abs((c.defocusU + c.defocusV) - (s.defocusU + s.defocusV)) < 1e-6)
            #expect(abs(c.defocusAngle - carried[0].defocusAngle) < 1e-9)
        }
        // An isotropic change carries every particle exactly.
        let iso = MagnificationEstimator.carryAstigmatism(micrograph: shared.map { ($0.0, $0.1, $0.2) }, change: .scale(1.01))
        for (c, p) in zip(iso, shared) {
            let s = MagnificationEstimator.carryAstigmatism(defocusU: p.0, defocusV: p.1, defocusAngle: p.2, change: .scale(1.01))
            #expect(abs(c.defocusU - s.defocusU) < 1e-6 && abs(c.defocusV - s.defocusV) < 1e-6)
        }
        // Different astigmatism: all particles get the micrograph's mean astigmatism, and keep their mean defocus.
        let mixed = [(12000.0, 11000.0, 10.0), (14000, 13800, 50.0)]
        let out = MagnificationEstimator.carryAstigmatism(micrograph: mixed.map { ($0.0, $0.1, $0.2) }, change: .identity)
        #expect(abs((out[0].defocusU - out[0].defocusV) - (out[1].defocusU - out[1].defocusV)) < 1e-6)
        #expect(abs(out[0].defocusAngle - out[1].defocusAngle) < 1e-9)
        #expect(abs((out[0].defocusU + out[0].defocusV) / 2 - 11500) < 1e-6)
        #expect(abs((out[1].defocusU + out[1].defocusV) / 2 - 13900) < 1e-6)
    }

    @Test func astigmatismIsCarriedIntoTheNewCoordinates() throws {
        // The CTF at the new matrix with the carried defocus equals the old one at every frequency.
        let change = MagnificationDecomposition.matrix(scale: 1.01, anisotropyPercent: 2, majorAxisAngle: 15)
        let old = CTFParameters(defocusU: 12000, defocusV: 11000, defocusAngle: 35, sphericalAberration: 0)
        let carried = MagnificationEstimator.carryAstigmatism(defocusU: 12000, defocusV: 11000, defocusAngle: 35, change: change)
        var new = old
        new.defocusU = carried.defocusU; new.defocusV = carried.defocusV; new.defocusAngle = carried.defocusAngle
        new.magMatrix = change
        let a = try CTF(old), b = try CTF(new)
        for (x, y) in [(0.1, 0.05), (-0.2, 0.13), (0.3, -0.25)] {
            #expect(abs(a.value(x: x, y: y) - b.value(x: x, y: y)) < 1e-6)
        }
    }
}
