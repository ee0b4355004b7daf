// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The reference text's second CtfRefine run ("followed by another run for defocus"): per-particle
// defocus with the astigmatism shared by a micrograph's particles, RELION 3.1's default mode.

import Foundation
import Testing
import AngpixCore
import AngpixFourier
import AngpixOptics
import AngpixTestSupport
@testable import AngpixRefine

/// One micrograph: per-particle true defocus around `mean`, shared astigmatism; the particles'
/// current CTF has `start` as defocus and no astigmatism.
func defocusMicrograph(count: Int, mean: Double, spread: Double, astigmatism: Double, angle: Double,
                       start: Double, snr: Double?, seed: UInt64 = 5) throws -> (obs: [ParticleObservation], truth: [Double]) {
    let molecule = SyntheticMolecule(seed: 13)
    let weights = bandWeights(boxSize: 64, pixelSize: 1)
    var obs: [ParticleObservation] = [], truth: [Double] = []
    for i in 0..<count {
        var rng = SplitMix64(seed: seed &* 7919 &+ UInt64(i))
        let d = mean + spread * rng.gaussian()
        let trueCTF = CTFParameters(defocusU: d + astigmatism / 2, defocusV: d - astigmatism / 2, defocusAngle: angle)
        let current = CTFParameters(defocusU: start, defocusV: start, defocusAngle: 0)
        let particle = SyntheticParticle(molecule: molecule, trueCTF: trueCTF, amplitude: 0.8, snr: snr)
        obs.append(try particle.observation(row: 100 + i, micrograph: "mic1", currentCTF: current, weights: weights, rng: &rng))
        truth.append(d)
    }
    return (obs, truth)
}

@Suite struct DefocusEstimatorTests {
    @Test func perParticleDefocusAndMicrographAstigmatismAreFound() throws {
        let (obs, truth) = try defocusMicrograph(count: 30, mean: 14000, spread: 300, astigmatism: 500, angle: 40,
                                                 start: 14000, snr: 0.5)
        let r = try DefocusEstimator.refine(obs, weights: [1: bandWeights(boxSize: 64, pixelSize: 1)])
        #expect(r.particles.count == 30)
        #expect(r.particles.map(\.row) == obs.map(\.row))
        var sq = 0.0, before = 0.0
        for (p, t) in zip(r.particles, truth) {
            let mean = (p.defocusU + p.defocusV) / 2
            sq += (mean - t) * (mean - t)
            before += (14000 - t) * (14000 - t)
            #expect(p.costAfter <= p.costBefore)
        }
        let rms = (sq / 30).squareRoot()
        let meanError = r.particles.map(\.defocusError).reduce(0, +) / 30
        printMeasured("refine defocus: RMS error Å (before \(Int((before / 30).squareRoot())))", rms)
        printMeasured("refine defocus: mean reported standard error Å", meanError)
        printMeasured("refine defocus: astigmatism Å (truth 500)", r.astigmatism)
        printMeasured("refine defocus: astigmatism angle ° (truth 40)", r.astigmatismAngle)
        #expect(rms < 50)
        #expect(abs(r.astigmatism - 500) < 50)
        #expect(abs(r.astigmatismAngle - 40) < 5)
        // The reported errors are of the right size (the RMS error within a factor of 3 of them).
        #expect(rms < 3 * meanError && meanError < 3 * rms)
        // Every particle shares the micrograph's astigmatism.
        for p in r.particles {
            #expect(abs((p.defocusU - p.defocusV) - r.astigmatism) < 1e-6)
            #expect(abs(p.defocusAngle - r.astigmatismAngle) < 1e-6)
        }
    }

    @Test func aDefocusFarOffIsFoundByTheSearch() throws {
        // Started 1200 Å off (more than a CTF ring at the highest weighted frequency), noise-free.
        let (obs, truth) = try defocusMicrograph(count: 12, mean: 20000, spread: 200, astigmatism: 0, angle: 0,
                                                 start: 21200, snr: nil)
        let r = try DefocusEstimator.refine(obs, weights: [1: bandWeights(boxSize: 64, pixelSize: 1)], fitAstigmatism: false)
        for (p, t) in zip(r.particles, truth) {
            #expect(abs((p.defocusU + p.defocusV) / 2 - t) < 5)
        }
        #expect(abs(r.amplitudeScale - 0.8) < 0.01)
    }

    @Test func polarInvertsTheDefocusMatrix() {
        // A = Qᵀ diag(−ΔfU, −ΔfV) Q for ΔfU 12000, ΔfV 11000 at 35°.
        let t = 35 * Double.pi / 180
        let c = cos(t), s = sin(t)
        let (u, v) = (-12000.0, -11000.0)
        let p = DefocusEstimator.polar(axx: c * c * u + s * s * v, axy: c * s * (u - v), ayy: s * s * u + c * c * v)
        #expect(abs(p.defocusU - 12000) < 1e-6 && abs(p.defocusV - 11000) < 1e-6 && abs(p.defocusAngle - 35) < 1e-9)
    }
}
