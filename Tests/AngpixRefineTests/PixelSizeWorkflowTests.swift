// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The reference text's "Cs and the error in the pixel size", on simulated particles: at a 2 % too
// small nominal pixel size the fitted defocus absorbs part of the error and Cs cannot; "run
// CtfRefine twice: first with Estimate 4th order aberrations to refine Cs, followed by another run
// for defocus". After both, the CTF is consistent at the nominal pixel size and Z40 gives the true one.

import Foundation
import Testing
import AngpixCore
import AngpixFourier
import AngpixOptics
import AngpixTestSupport
@testable import AngpixRefine

@Suite struct PixelSizeWorkflowTests {
    @Test func aberrationFitThenDefocusRefitUndoesTheAbsorbedDefocus() throws {
        let lambda = electronWavelength(kilovolts: 300)
        let k1 = Double.pi * lambda
        let molecule = SyntheticMolecule(seed: 17, sigma: 0.5)
        let weights = bandWeights(boxSize: 64, pixelSize: 1, highResolution: 2)
        // Truly 1.02 Å/px, nominal 1.0: the CTF sees k / 1.02; the map (built from these particles)
        // is seen at k. At the nominal pixel size the true defocus Δf looks like Δf / 1.02².
        let truthMatrix = Matrix2x2.scale(1 / 1.02)
        var micrographs: [[ParticleObservation]] = []
        var nominalTruth: [Int: Double] = [:]
        for m in 0..<6 {
            var mic: [ParticleObservation] = []
            for j in 0..<25 {
                let row = m * 25 + j
                var rng = SplitMix64(seed: 99 &* 1_000_003 &+ UInt64(row))
                let defocus = 9000 + 1500 * Double(m) + 200 * rng.gaussian()
                let trueCTF = CTFParameters(defocusU: defocus, magMatrix: truthMatrix)
                nominalTruth[row] = defocus / (1.02 * 1.02)
                // CTFFIND's starting value at the nominal pixel size, off by up to ±150 Å.
                let start = defocus / (1.02 * 1.02) + rng.uniform(-150, 150)
                let particle = SyntheticParticle(molecule: molecule, trueCTF: trueCTF, snr: 2, referenceMatrix: .identity)
                mic.append(try particle.observation(row: row, micrograph: "mic\(m)", currentCTF: CTFParameters(defocusU: start),
                                                    weights: weights, rng: &rng))
            }
            micrographs.append(mic)
        }
        func rmsAgainstTruth(_ results: [MicrographDefocus], offset: Double) -> Double {
            var sq = 0.0, n = 0.0
            for r in results { for p in r.particles {
                let e = (p.defocusU + p.defocusV) / 2 - offset - nominalTruth[p.row]!
                sq += e * e; n += 1
            } }
            return (sq / n).squareRoot()
        }
        // 0. Defocus fitted at the nominal pixel size without aberrations: it absorbs what it can.
        let absorbed = try micrographs.map { try DefocusEstimator.refine($0, weights: [1: weights], fitAstigmatism: false) }
        let rmsAbsorbed = rmsAgainstTruth(absorbed, offset: 0)
        let withDefocus: [ParticleObservation] = zip(micrographs, absorbed).flatMap { mic, r in
            zip(mic, r.particles).map { o, p in
                var q = o
                q.ctf.defocusU = p.defocusU; q.ctf.defocusV = p.defocusV; q.ctf.defocusAngle = p.defocusAngle
                return q
            }
        }
        // 1. The 4th-order aberration fit.
        let grid = SpectrumGrid(opticsGroup: 1, boxSize: 64, pixelSize: 1)
        let even = try EvenAberrationEstimator.fit(EvenAberrationEstimator.accumulate(withDefocus, grid: grid, weights: weights), order: 4)
        let z = even.updated([])
        let csApparent = 2.7 + 12 * z[6] * 1e-7 / (Double.pi * lambda * lambda * lambda)
        let pixel = pow(2.7 / csApparent, 0.25) * 1.0
        // 2. The defocus refit with the new Zernike terms.
        let refit = try stride(from: 0, to: withDefocus.count, by: 25).map { start in
            let mic = withDefocus[start..<(start + 25)].map { o -> ParticleObservation in
                var q = o
                q.ctf.evenZernike = z
                return q
            }
            return try DefocusEstimator.refine(mic, weights: [1: weights], fitAstigmatism: false)
        }
        // The Zernike terms' own ρ² part (2 Z20 − 6 Z40) acts as a defocus shared by the group.
        let shared = -(2 * z[2] - 6 * z[6]) / k1
        let rmsRefit = rmsAgainstTruth(refit, offset: -shared)
        printMeasured("refine workflow: defocus RMS vs nominal-frame truth, absorbed (Å)", rmsAbsorbed)
        printMeasured("refine workflow: Z40 (expected \(String(format: "%.3f", -Double.pi * 2.7e7 * (1 - pow(1.02, -4)) * pow(lambda, 3) / 12)))", z[6])
        printMeasured("refine workflow: pixel size from Z40 with Cs 2.7 (truth 1.02)", pixel)
        printMeasured("refine workflow: defocus RMS after the aberration fit and refit (Å)", rmsRefit)
        #expect(rmsAbsorbed > 50)
        #expect(rmsRefit < 50)
        #expect(abs(pixel - 1.02) < 0.002)
    }
}
