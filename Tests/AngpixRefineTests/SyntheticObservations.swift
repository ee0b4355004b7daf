// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Synthetic particle observations with a known truth, made in memory for the estimator tests.
//
// The "reference" is a small molecule of Gaussian atoms, so its projection's spectrum and the
// spectrum's gradient are exact at any frequency k (1/Å): an atom of amplitude A at (x, y) after
// the particle's rotation and shift contributes A · exp(−2π² σ² |k|²) · exp(−2πi k·(x, y)).
// A particle's observation is y(k) = a · CTF_true(k) · F(M_true k) + complex Gaussian noise at a
// stated SNR (the mean signal power over the weighted band divided by the noise power), with
// CTF_true carrying the true magnification, aberrations and defocus; the prediction is F(M_cur k)
// with its gradient Mᵀ∇F(M_cur k), as the pipeline would project the reference at the group's
// current matrix.

import Foundation
import AngpixCore
import AngpixFourier
import AngpixOptics
@testable import AngpixRefine

struct Atom { var x: Double, y: Double, z: Double, amplitude: Double }

struct SyntheticMolecule {
    var atoms: [Atom]
    /// The atoms' Gaussian width σ (Å): the signal falls to e^{-1} at |k| = 1 / (π σ √2).
    var sigma: Double

    init(seed: UInt64, atomCount: Int = 40, radius: Double = 16, sigma: Double = 0.8) {
        var rng = SplitMix64(seed: seed)
        var atoms: [Atom] = []
        while atoms.count < atomCount {
            let x = rng.uniform(-radius, radius), y = rng.uniform(-radius, radius), z = rng.uniform(-radius, radius)
            if x * x + y * y + z * z > radius * radius { continue }
            atoms.append(Atom(x: x, y: y, z: z, amplitude: rng.uniform(0.5, 1.5)))
        }
        self.atoms = atoms
        self.sigma = sigma
    }

    /// The 2-D positions of the atoms after a random rotation and a shift (Å).
    func projectedPositions(_ rng: inout SplitMix64, maxShift: Double = 2) -> [(x: Double, y: Double, a: Double)] {
        // A uniform random rotation from a unit quaternion.
        var (q0, q1) = rng.normalPair()
        var (q2, q3) = rng.normalPair()
        let n = (q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3).squareRoot()
        q0 /= n; q1 /= n; q2 /= n; q3 /= n
        let r00 = 1 - 2 * (q2 * q2 + q3 * q3), r01 = 2 * (q1 * q2 - q0 * q3), r02 = 2 * (q1 * q3 + q0 * q2)
        let r10 = 2 * (q1 * q2 + q0 * q3), r11 = 1 - 2 * (q1 * q1 + q3 * q3), r12 = 2 * (q2 * q3 - q0 * q1)
        let sx = rng.uniform(-maxShift, maxShift), sy = rng.uniform(-maxShift, maxShift)
        return atoms.map { a in
            (r00 * a.x + r01 * a.y + r02 * a.z + sx, r10 * a.x + r11 * a.y + r12 * a.z + sy, a.amplitude)
        }
    }

    /// F(q) and ∇F(q) of projected atoms at frequency q (1/Å).
    static func spectrum(_ atoms: [(x: Double, y: Double, a: Double)], sigma: Double, qx: Double, qy: Double)
        -> (re: Double, im: Double, dxRe: Double, dxIm: Double, dyRe: Double, dyIm: Double) {
        let q2 = qx * qx + qy * qy
        let envelope = exp(-2 * Double.pi * Double.pi * sigma * sigma * q2)
        let denv = -4 * Double.pi * Double.pi * sigma * sigma
        var re = 0.0, im = 0.0, dxr = 0.0, dxi = 0.0, dyr = 0.0, dyi = 0.0
        for at in atoms {
            let ph = -2 * Double.pi * (qx * at.x + qy * at.y)
            let c = at.a * cos(ph), s = at.a * sin(ph)
            re += c; im += s
            // ∂/∂q of e^{iph}: i · (−2π x) e^{iph}.
            dxr += -(-2 * Double.pi * at.x) * s; dxi += (-2 * Double.pi * at.x) * c
            dyr += -(-2 * Double.pi * at.y) * s; dyi += (-2 * Double.pi * at.y) * c
        }
        // ∇(env · S) = env' q S + env ∇S.
        return (envelope * re, envelope * im,
                envelope * (denv * qx * re + dxr), envelope * (denv * qx * im + dxi),
                envelope * (denv * qy * re + dyr), envelope * (denv * qy * im + dyi))
    }
}

/// Weights 1 between `lowResolution` and `highResolution` Å, 0 elsewhere.
func bandWeights(boxSize s: Int, pixelSize p: Double, lowResolution: Double = 20, highResolution: Double = 2.5) -> FrequencyWeights {
    let grid = SpectrumGrid(opticsGroup: 1, boxSize: s, pixelSize: p)
    let values: [Float] = (0..<grid.count).map { i in
        let k = grid.frequency(ofIndex: i)
        let r = (k.x * k.x + k.y * k.y).squareRoot()
        return r > 1 / lowResolution && r <= 1 / highResolution ? 1 : 0
    }
    return FrequencyWeights(boxSize: s, values: values)
}

/// One simulated particle.
struct SyntheticParticle {
    var molecule: SyntheticMolecule
    var boxSize = 64
    var pixelSize = 1.0
    var opticsGroup = 1
    /// The truth: CTF (with the true magnification matrix, Zernike terms, defocus) and amplitude.
    var trueCTF: CTFParameters
    var amplitude = 1.0
    /// Signal-to-noise ratio in the band of `weights` (nil: noise-free).
    var snr: Double?
    /// The matrix at which the reference is seen, when it differs from the CTF's (a group whose map
    /// was built from its own particles at their wrong pixel size sees the map at k, the CTF at M_true k).
    var referenceMatrix: Matrix2x2? = nil

    /// The observation with a prediction at `currentCTF.magMatrix` and `currentCTF` as the particle's CTF.
    func observation(row: Int, micrograph: String, currentCTF: CTFParameters, weights: FrequencyWeights,
                     rng: inout SplitMix64, gradients: Bool = false) throws -> ParticleObservation {
        let atoms = molecule.projectedPositions(&rng)
        let grid = SpectrumGrid(opticsGroup: opticsGroup, boxSize: boxSize, pixelSize: pixelSize)
        let truth = try CTF(trueCTF)
        let Mt = trueCTF.magMatrix ?? .identity, Mc = currentCTF.magMatrix ?? .identity
        var observed = [Complex32](repeating: .zero, count: grid.count), predicted = observed
        var gx = observed, gy = observed
        var clean = [Double](repeating: 0, count: grid.count * 2)
        var power = 0.0, count = 0.0
        for i in 0..<grid.count {
            let k = grid.frequency(ofIndex: i)
            let qt = (referenceMatrix ?? Mt).apply(k.x, k.y)
            let ft = SyntheticMolecule.spectrum(atoms, sigma: molecule.sigma, qx: qt.x, qy: qt.y)
            let t = truth.complexValue(x: k.x, y: k.y)
            let yr = amplitude * (t.re * ft.re - t.im * ft.im), yi = amplitude * (t.re * ft.im + t.im * ft.re)
            clean[2 * i] = yr; clean[2 * i + 1] = yi
            if weights.values[i] > 0 { power += yr * yr + yi * yi; count += 1 }
            let qc = Mc.apply(k.x, k.y)
            let fc = SyntheticMolecule.spectrum(atoms, sigma: molecule.sigma, qx: qc.x, qy: qc.y)
            predicted[i] = Complex32(Float(fc.re), Float(fc.im))
            if gradients {
                // ∂/∂k F(M k) = Mᵀ ∇F.
                gx[i] = Complex32(Float(Mc.m00 * fc.dxRe + Mc.m10 * fc.dyRe), Float(Mc.m00 * fc.dxIm + Mc.m10 * fc.dyIm))
                gy[i] = Complex32(Float(Mc.m01 * fc.dxRe + Mc.m11 * fc.dyRe), Float(Mc.m01 * fc.dxIm + Mc.m11 * fc.dyIm))
            }
        }
        // Noise: power per complex value = signal power / SNR, half in each part.
        let sigma = snr.map { (power / max(count, 1) / $0 / 2).squareRoot() } ?? 0
        for i in 0..<grid.count {
            var nr = 0.0, ni = 0.0
            if sigma > 0 { (nr, ni) = rng.normalPair() }
            observed[i] = Complex32(Float(clean[2 * i] + sigma * nr), Float(clean[2 * i + 1] + sigma * ni))
        }
        return ParticleObservation(boxSize: boxSize, pixelSize: pixelSize, opticsGroup: opticsGroup,
                                   randomSubset: row % 2 + 1, micrographName: micrograph, row: row, ctf: currentCTF,
                                   observed: observed, predicted: predicted,
                                   gradientX: gradients ? gx : nil, gradientY: gradients ? gy : nil)
    }
}
