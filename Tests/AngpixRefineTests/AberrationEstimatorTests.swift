// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The reference text's "Fixing a wrong pixel size": CtfRefine's 4th-order aberration fit puts the
// Cs error of a wrong pixel size into Z40 (rlnEvenZernike index 6), from which `calibrate zernike`
// finds the pixel size; and the beam tilt from the antisymmetric (odd) fit.

import Foundation
import Testing
import AngpixCore
import AngpixFourier
import AngpixOptics
import AngpixTestSupport
@testable import AngpixRefine

/// Simulated particles of one group: truth and current CTF differ only by `adjust` applied to the truth.
func aberrationObservations(count: Int, snr: Double?, seed: UInt64 = 3, range: Range<Int>? = nil,
                            atomSigma: Double = 0.8, highResolution: Double = 2.5,
                            truth: (inout CTFParameters) -> Void) throws -> [ParticleObservation] {
    let molecule = SyntheticMolecule(seed: 11, sigma: atomSigma)
    let weights = bandWeights(boxSize: 64, pixelSize: 1, highResolution: highResolution)
    let indices = Array(range ?? 0..<count)
    let chunks = splitRange(indices.count, into: 8)
    nonisolated(unsafe) var parts = [[ParticleObservation]](repeating: [], count: chunks.count)
    nonisolated(unsafe) var failure: Error?
    parallelForEach(chunks.count) { c in
        do {
            for n in chunks[c] {
                let i = indices[n]
                var rng = SplitMix64(seed: seed &* 1_000_003 &+ UInt64(i))
                let defocus = 8000 + 14000 * rng.unit()
                let current = CTFParameters(defocusU: defocus + 200, defocusV: defocus - 200, defocusAngle: 60)
                var trueCTF = current
                truth(&trueCTF)
                let particle = SyntheticParticle(molecule: molecule, trueCTF: trueCTF, amplitude: 1, snr: snr)
                parts[c].append(try particle.observation(row: i, micrograph: "mic\(i / 25)", currentCTF: current,
                                                          weights: weights, rng: &rng))
            }
        } catch { failure = error }
    }
    if let failure { throw failure }
    return parts.flatMap { $0 }
}

let grid64 = SpectrumGrid(opticsGroup: 1, boxSize: 64, pixelSize: 1)

@Suite struct EvenAberrationEstimatorTests {
    /// Z40 of the Cs error that a 2 % pixel-size error causes at 300 kV and Cs 2.7 mm (the page's
    /// "correction to the Cs is 12 Z40 / (π λ³)", read backwards).
    static let z40OfTwoPercent: Double = {
        let lambda = electronWavelength(kilovolts: 300)
        let deltaCs = 2.7 * (pow(1.02, 4) - 1) * 1e7
        return Double.pi * deltaCs * lambda * lambda * lambda / 12
    }()

    @Test func z40OfATwoPercentPixelSizeErrorIsRecovered() throws {
        // A Cs error is a pure ρ⁴ phase, 6 Z40 ρ⁴ = Z40 · Z(0,4) + 3 Z40 · Z(0,2) + 2 Z40 · Z(0,0);
        // RELION reports it as Z40 with the lower terms absorbing the rest. Signal to Nyquist (2 Å).
        let z40 = Self.z40OfTwoPercent
        let obs = try aberrationObservations(count: 240, snr: 2, atomSigma: 0.5, highResolution: 2) { t in
            t.evenZernike = [2 * z40, 0, 3 * z40, 0, 0, 0, z40]
        }
        let sums = try EvenAberrationEstimator.accumulate(obs, grid: grid64, weights: bandWeights(boxSize: 64, pixelSize: 1, highResolution: 2))
        let e = try EvenAberrationEstimator.fit(sums, order: 4)
        printMeasured("refine aberrations: Z40 (truth \(String(format: "%.3f", z40)))", e.delta[6])
        printMeasured("refine aberrations: Z40 standard error", e.standardErrors[6])
        printMeasured("refine aberrations: Z40 of the linear fit", e.linearFit[6])
        #expect(e.delta.count == 9)
        #expect(abs(e.delta[6] - z40) < 0.05 * z40)
        #expect(abs(e.delta[2] - 3 * z40) < 0.05 * 3 * z40 && abs(e.delta[0] - 2 * z40) < 0.05 * 2 * z40)
        // The other terms are at noise level (4σ).
        for j in [1, 3, 4, 5, 7, 8] {
            #expect(abs(e.delta[j]) < 4 * e.standardErrors[j])
        }
        // Cs from the page's formula: Cs_apparent = Cs + 12 Z40 · 1e-7 / (π λ³), and the pixel size.
        let lambda = electronWavelength(kilovolts: 300)
        let csApparent = 2.7 + 12 * e.delta[6] * 1e-7 / (Double.pi * lambda * lambda * lambda)
        let pixel = 1.0 * pow(csApparent / 2.7, 0.25)
        printMeasured("refine aberrations: pixel size from Z40 (truth 1.02)", pixel)
        #expect(abs(pixel - 1.02) < 0.002)
        // Order 6 (16 terms) from the same sums: Z40 within 4σ (Z60 shares its ρ⁴ term, so σ grows),
        // the 6th-order terms at noise level.
        let e6 = try EvenAberrationEstimator.fit(sums, order: 6)
        printMeasured("refine aberrations: Z40 at order 6", e6.delta[6])
        printMeasured("refine aberrations: Z40 standard error at order 6", e6.standardErrors[6])
        #expect(e6.delta.count == 16)
        #expect(abs(e6.delta[6] - z40) < 4 * e6.standardErrors[6])
        for j in 9..<16 { #expect(abs(e6.delta[j]) < 4 * e6.standardErrors[j]) }
    }

    @Test func theFitIsADeltaOnTheCurrentCoefficients() throws {
        // Truth Z40 = 3 and Z2−2 = 0.5; the group already carries Z40 = 2: the fit adds the rest.
        let obs = try aberrationObservations(count: 120, snr: nil) { t in
            t.evenZernike = [0, 0.5, 0, 0, 0, 0, 3]
        }.map { p -> ParticleObservation in
            var q = p
            q.ctf.evenZernike = [0, 0, 0, 0, 0, 0, 2]
            return q
        }
        let sums = try EvenAberrationEstimator.accumulate(obs, grid: grid64, weights: bandWeights(boxSize: 64, pixelSize: 1))
        let e = try EvenAberrationEstimator.fit(sums, order: 4)
        let total = e.updated([0, 0, 0, 0, 0, 0, 2])
        #expect(abs(total[6] - 3) < 0.03)
        #expect(abs(total[1] - 0.5) < 0.01)
        let image = EvenAberrationEstimator.perPixelPhase(sums).image
        #expect(image.phase.count == grid64.count)
    }

    @Test func shardSumsMergeToTheSingleRunsSums() throws {
        let weights = bandWeights(boxSize: 64, pixelSize: 1)
        let all = try aberrationObservations(count: 30, snr: 0.3) { $0.evenZernike = [0, 0, 0, 0, 0, 0, 2] }
        let whole = try EvenAberrationEstimator.accumulate(all, grid: grid64, weights: weights)
        var merged = EvenAberrationSums(grid: grid64)
        for r in [0..<10, 10..<30] {
            let shard = try EvenAberrationEstimator.accumulate(Array(all[r]), grid: grid64, weights: weights)
            merged = merged + (try JSONDecoder().decode(EvenAberrationSums.self, from: JSONEncoder().encode(shard)))
        }
        let a = try EvenAberrationEstimator.fit(whole), b = try EvenAberrationEstimator.fit(merged)
        for (x, y) in zip(a.delta, b.delta) { #expect(abs(x - y) < 1e-9) }
    }
}

@Suite struct OddAberrationEstimatorTests {
    static let lambda = electronWavelength(kilovolts: 300)

    @Test func beamTiltPhaseMatchesTheCTFsOddPhase() throws {
        // RELION's insertTilt coefficients evaluated by the CTF give −2π Cs λ² |k|² (k · tilt).
        let odd = BeamTilt.insert(tiltX: 0.7, tiltY: -0.4, into: [], sphericalAberration: 2.7, wavelength: Self.lambda)
        let ctf = try CTF(CTFParameters(defocusU: 10000, oddZernike: odd))
        for (x, y) in [(0.1, 0.2), (-0.3, 0.05), (0.25, -0.33)] {
            let expected = BeamTilt.phase(tiltX: 0.7, tiltY: -0.4, x: x, y: y, sphericalAberration: 2.7, wavelength: Self.lambda)
            #expect(abs(ctf.oddPhase(x: x, y: y) - expected) < 1e-9 * max(1, abs(expected)))
        }
        let back = BeamTilt.extract(from: odd, sphericalAberration: 2.7, wavelength: Self.lambda)
        #expect(abs(back.tiltX! - 0.7) < 1e-12 && abs(back.tiltY! + 0.4) < 1e-12)
        #expect(back.remaining.allSatisfy { abs($0) < 1e-12 })
        #expect(BeamTilt.extract(from: odd, sphericalAberration: 0, wavelength: Self.lambda).tiltX == nil)
    }

    @Test func beamTiltIsRecovered() throws {
        let (tx, ty) = (0.5, -0.3)
        let odd = BeamTilt.insert(tiltX: tx, tiltY: ty, into: [], sphericalAberration: 2.7, wavelength: Self.lambda)
        let obs = try aberrationObservations(count: 160, snr: 0.5) { $0.oddZernike = odd }
        let sums = try OddAberrationEstimator.accumulate(obs, grid: grid64, weights: bandWeights(boxSize: 64, pixelSize: 1))
        let e = try OddAberrationEstimator.fit(sums, order: 3, current: [], sphericalAberration: 2.7, wavelength: Self.lambda)
        printMeasured("refine aberrations: beam tilt X mrad (truth 0.5)", e.beamTiltX!)
        printMeasured("refine aberrations: beam tilt Y mrad (truth -0.3)", e.beamTiltY!)
        printMeasured("refine aberrations: beam tilt X standard error mrad", e.beamTiltXError!)
        #expect(abs(e.beamTiltX! - tx) < 0.05)
        #expect(abs(e.beamTiltY! - ty) < 0.05)
        #expect(e.beamTiltXError! > 0 && e.beamTiltXError! < 0.05)
        // What stays in rlnOddZernike is at noise level (4σ): Z1±1 − 2 Z3±1 and Z3±3.
        let C = e.zernike.covariance
        #expect(abs(e.oddZernike[1]) < 4 * (C[1][1] + 4 * C[4][4] - 4 * C[1][4]).squareRoot())
        #expect(abs(e.oddZernike[0]) < 4 * (C[0][0] + 4 * C[3][3] - 4 * C[0][3]).squareRoot())
        #expect(abs(e.oddZernike[2]) < 4 * e.zernike.standardErrors[2] && abs(e.oddZernike[5]) < 4 * e.zernike.standardErrors[5])
        #expect(e.oddZernike[3] == 0 && e.oddZernike[4] == 0)
        printMeasured("refine aberrations: remaining odd coefficients, largest", e.oddZernike.map(abs).max()!)
        // Order 5 (12 terms) from the same sums: Z5±1 share the ρ³ terms of Z3±1, so the tilt is
        // less certain; within 4σ.
        let e5 = try OddAberrationEstimator.fit(sums, order: 5, current: [], sphericalAberration: 2.7, wavelength: Self.lambda)
        printMeasured("refine aberrations: beam tilt X at order 5", e5.beamTiltX!)
        printMeasured("refine aberrations: its standard error", e5.beamTiltXError!)
        #expect(e5.zernike.delta.count == 12)
        #expect(abs(e5.beamTiltX! - tx) < 4 * e5.beamTiltXError! && abs(e5.beamTiltY! - ty) < 4 * e5.beamTiltYError!)
    }

    @Test func aTiltAlreadyInTheGroupIsKeptAndCorrected() throws {
        // The group carries a tilt of (0.2, 0) inserted in its odd terms; the truth is (0.6, 0.1).
        let lambda = Self.lambda
        let current = BeamTilt.insert(tiltX: 0.2, tiltY: 0, into: [], sphericalAberration: 2.7, wavelength: lambda)
        let truth = BeamTilt.insert(tiltX: 0.6, tiltY: 0.1, into: [], sphericalAberration: 2.7, wavelength: lambda)
        let obs = try aberrationObservations(count: 80, snr: nil) { $0.oddZernike = truth }.map { p -> ParticleObservation in
            var q = p
            q.ctf.oddZernike = current
            return q
        }
        let sums = try OddAberrationEstimator.accumulate(obs, grid: grid64, weights: bandWeights(boxSize: 64, pixelSize: 1))
        let e = try OddAberrationEstimator.fit(sums, order: 3, current: current, sphericalAberration: 2.7, wavelength: lambda)
        #expect(abs(e.beamTiltX! - 0.6) < 0.01)
        #expect(abs(e.beamTiltY! - 0.1) < 0.01)
    }

    @Test func shardSumsMergeToTheSingleRunsSums() throws {
        let weights = bandWeights(boxSize: 64, pixelSize: 1)
        let odd = BeamTilt.insert(tiltX: 0.5, tiltY: 0, into: [], sphericalAberration: 2.7, wavelength: Self.lambda)
        let all = try aberrationObservations(count: 30, snr: 0.3) { $0.oddZernike = odd }
        let whole = try OddAberrationEstimator.accumulate(all, grid: grid64, weights: weights)
        var merged = OddAberrationSums(grid: grid64)
        for r in [0..<13, 13..<30] {
            let shard = try OddAberrationEstimator.accumulate(Array(all[r]), grid: grid64, weights: weights)
            merged = merged + (try JSONDecoder().decode(OddAberrationSums.self, from: JSONEncoder().encode(shard)))
        }
        let a = try OddAberrationEstimator.fitZernike(whole), b = try OddAberrationEstimator.fitZernike(merged)
        for (x, y) in zip(a.delta, b.delta) { #expect(abs(x - y) < 1e-9) }
    }
}
