// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The antisymmetric (odd) aberrations and the beam tilt of an optics group (RELION 3.1
// TiltEstimator, TiltHelper::updateTiltShift, fitOddZernike, optimiseOddZernike, extractTilt /
// insertTilt; docs/refine.md, "How the fits work").
//
// Per pixel, with the particle's transfer t = c · e^{iφ} (its CTF c and the group's current odd
// phase φ, both at M·k), the prediction f and the observation y:
//   xy += w · conj(t f) · y,    W += w |t f|²
// (RELION's xyAcc and wAcc; with φ = 0 they are RELION's c f̄ y and c²|f|²). If y = t f e^{iδ},
// arg(xy) = δ: the odd phase still missing. The coefficients: a linear fit of arg(xy) by the odd
// Zernike polynomials Z(M k) weighted by W, then a refinement (Gauss–Newton; RELION uses
// Nelder–Mead) of Σ W |e^{iδ(c)} − xy/W|², RELION's BasisOptimisation cost, which up to a constant is
// the weighted squared residual of y ≈ t f e^{iδ}. The result is a DELTA (new rlnOddZernike =
// current + delta; RELION predicts without the current odd phase and writes the fit itself).
//
// Beam tilt, as RELION's insertTilt/extractTilt (Cs in mm, λ in Å, tilt in mrad):
//   s = Cs · 20000 · λ² · π,   Z3x = −s · tiltX / 3 (Z31, odd index 4),  Z3y = −s · tiltY / 3 (Z3−1, index 3),
//   and Z11 (index 1) += 2 Z3x, Z1−1 (index 0) += 2 Z3y,
// so that the phase is Z3x (3ρ² − 2) x + 2 Z3x x = −s tiltX ρ² x: φ_tilt(k) = −2π Cs λ² |k|² (k · tilt)
// with Cs in Å and tilt in rad. Extraction inverts this: tilt = −3 Z3 / s, the Z3±1 terms become
// the tilt and the Z1±1 terms lose 2 Z3. Uncertainty: σ(tilt) = 3 σ(Z3) / s.

import Foundation
import AngpixFourier
import AngpixOptics

/// The additive per-pixel sums of one optics group for the odd-aberration and beam-tilt fit.
public struct OddAberrationSums: Codable, Sendable, Equatable {
    public var grid: SpectrumGrid
    /// The group's magnification matrix (the Zernike polynomials are evaluated at M·k).
    public var magMatrix: Matrix2x2
    public var particleCount: Int
    /// Per pixel: Σ w conj(t f) y, real and imaginary parts.
    public var xyRe: [Double], xyIm: [Double]
    /// Per pixel: Σ w |t f|².
    public var weight: [Double]
    /// Σ w |y|² and Σ w over all pixels and particles.
    public var observedEnergy: Double
    public var weightSum: Double

    public init(grid: SpectrumGrid, magMatrix: Matrix2x2 = .identity) {
        self.grid = grid
        self.magMatrix = magMatrix
        particleCount = 0
        let z = [Double](repeating: 0, count: grid.count)
        xyRe = z; xyIm = z; weight = z
        observedEnergy = 0; weightSum = 0
    }

    /// Adds one particle; `table`, made once for the group, saves evaluating the Zernike phases per particle.
    public mutating func add(_ p: ParticleObservation, weights: FrequencyWeights, table: TransferTable? = nil) throws {
        try grid.check(p, weights: weights)
        guard (p.ctf.magMatrix ?? .identity) == magMatrix else {
            throw EstimationError.incompatible("particle row \(p.row) has another magnification matrix than its group's sums")
        }
        _ = try CTF(p.ctf)
        let table = table.flatMap { $0.grid == grid && $0.fits(p.ctf) ? $0 : nil } ?? TransferTable(grid: grid, ctf: p.ctf)
        let tp = table.particle(p.ctf)
        var energy = 0.0, wsum = 0.0
        for i in 0..<grid.count {
            let w = Double(weights.values[i])
            if w == 0 { continue }
            let y = p.observed[i]
            // The prediction with the current CTF and odd phase (boxed as extraction boxes it when
            // the observation carries it).
            let tfr: Double, tfi: Double
            if let ps = p.ctfSine {
                tfr = Double(ps[i].re); tfi = Double(ps[i].im)
            } else {
                let t = table.transfer(tp, i)
                let f = p.predicted[i]
                tfr = t.re * Double(f.re) - t.im * Double(f.im); tfi = t.re * Double(f.im) + t.im * Double(f.re)
            }
            let yr = Double(y.re), yi = Double(y.im)
            xyRe[i] += w * (tfr * yr + tfi * yi)
            xyIm[i] += w * (tfr * yi - tfi * yr)
            weight[i] += w * (tfr * tfr + tfi * tfi)
            energy += w * (yr * yr + yi * yi)
            wsum += w
        }
        observedEnergy += energy
        weightSum += wsum
        particleCount += 1
    }

    public mutating func merge(_ o: OddAberrationSums) throws {
        try grid.check(o.grid)
        guard magMatrix == o.magMatrix else { throw EstimationError.incompatible("different magnification matrices") }
        addInPlace(&xyRe, o.xyRe); addInPlace(&xyIm, o.xyIm); addInPlace(&weight, o.weight)
        observedEnergy += o.observedEnergy; weightSum += o.weightSum; particleCount += o.particleCount
    }

    public static func + (a: OddAberrationSums, b: OddAberrationSums) -> OddAberrationSums {
        var out = a
        do { try out.merge(b) } catch { preconditionFailure("\(error)") }
        return out
    }
}

/// RELION 3.1's beam tilt ↔ odd Zernike conversion (see the file header).
public enum BeamTilt {
    /// RELION's s = Cs · 20000 · λ² · π (Cs in mm, λ in Å).
    public static func scale(sphericalAberration cs: Double, wavelength lambda: Double) -> Double {
        cs * 20000 * lambda * lambda * 3.141592654
    }

    /// Adds the tilt (mrad) into odd coefficients (RELION's insertTilt; pads to 6 coefficients).
    public static func insert(tiltX: Double, tiltY: Double, into odd: [Double],
                              sphericalAberration cs: Double, wavelength lambda: Double) -> [Double] {
        var c = odd + [Double](repeating: 0, count: max(0, 6 - odd.count))
        let s = scale(sphericalAberration: cs, wavelength: lambda)
        let z3x = -s * tiltX / 3, z3y = -s * tiltY / 3
        c[1] += 2 * z3x; c[0] += 2 * z3y
        c[4] = z3x; c[3] = z3y
        return c
    }

    /// Splits odd coefficients into the tilt (mrad) and the remaining coefficients (RELION's
    /// extractTilt); nil tilt when Cs is 0 (the tilt is then not defined by Z3±1).
    public static func extract(from odd: [Double], sphericalAberration cs: Double, wavelength lambda: Double)
        -> (tiltX: Double?, tiltY: Double?, remaining: [Double]) {
        var c = odd + [Double](repeating: 0, count: max(0, 6 - odd.count))
        let s = scale(sphericalAberration: cs, wavelength: lambda)
        guard s != 0 else { return (nil, nil, c) }
        let z3x = c[4], z3y = c[3]
        c[4] = 0; c[3] = 0
        c[1] -= 2 * z3x; c[0] -= 2 * z3y
        return (-3 * z3x / s, -3 * z3y / s, c)
    }

    /// The phase (radians) of a beam tilt at frequency k (1/Å, after M): −2π Cs λ² |k|² (k · tilt).
    public static func phase(tiltX: Double, tiltY: Double, x: Double, y: Double,
                             sphericalAberration cs: Double, wavelength lambda: Double) -> Double {
        -2 * Double.pi * cs * 1e7 * lambda * lambda * (x * x + y * y) * (x * tiltX + y * tiltY) * 1e-3
    }
}

/// An odd-aberration fit and the beam tilt it implies.
public struct OddAberrationEstimate: Codable, Sendable, Equatable {
    /// The Zernike fit (delta to add to the current rlnOddZernike, which includes any current tilt).
    public var zernike: ZernikeEstimate
    /// The new total odd coefficients with the tilt taken out (rlnOddZernike), when Cs > 0.
    public var oddZernike: [Double]
    /// rlnBeamTiltX/Y (mrad) of the new total, nil when Cs is 0.
    public var beamTiltX: Double?
    public var beamTiltY: Double?
    /// Their standard errors (mrad).
    public var beamTiltXError: Double?
    public var beamTiltYError: Double?
}

/// RELION 3.1's antisymmetric-aberration and beam-tilt fit (see the file header).
public enum OddAberrationEstimator {
    /// The sums of one optics group's observations; the matrix defaults to the first particle's.
    public static func accumulate(_ observations: [ParticleObservation], grid: SpectrumGrid, magMatrix: Matrix2x2? = nil,
                                  weights: FrequencyWeights) throws -> OddAberrationSums {
        var s = OddAberrationSums(grid: grid, magMatrix: magMatrix ?? observations.first?.ctf.magMatrix ?? .identity)
        let table = observations.first.map { TransferTable(grid: grid, ctf: $0.ctf) }
        for p in observations { try s.add(p, weights: weights, table: table) }
        return s
    }

    /// The per-pixel phase arg(xy) and its weight W.
    public static func perPixelPhase(_ s: OddAberrationSums) -> PhaseImage {
        let phase = (0..<s.grid.count).map { i in s.weight[i] > 0 ? atan2(s.xyIm[i], s.xyRe[i]) : 0 }
        return PhaseImage(grid: s.grid, phase: phase, weight: s.weight)
    }

    /// Fits the odd Zernike terms up to radial order `order` (3 → 6 coefficients, 5 → 12).
    public static func fitZernike(_ s: OddAberrationSums, order: Int = 3) throws -> ZernikeEstimate {
        guard order >= 1, order % 2 == 1 else { throw EstimationError.underdetermined("the odd order must be odd (3 or 5), not \(order)") }
        let cc = ZernikeBasis.oddCount(order: order)
        let basis = ZernikeBasis.images(grid: s.grid, magMatrix: s.magMatrix, count: cc, odd: true)
        let img = perPixelPhase(s)
        let used = (0..<s.grid.count).filter { s.weight[$0] > 0 }
        let linear = try ZernikeBasis.linearFit(basis: basis, phase: img.phase, weight: s.weight, used: used,
                                                opticsGroup: s.grid.opticsGroup)
        // Σ W |e^{iδ} − xy/W|² = Σ (W − 2 Re(e^{−iδ} xy) + |xy|²/W); δ-dependent part −2 Σ Re(e^{−iδ} xy).
        // Gauss–Newton matrix 2 Σ W Z Zᵀ (RELION's cost), exact gradient.
        let evaluate: ([Double]) -> (cost: Double, gradient: [Double], hessian: [[Double]]) = { c in
            var cost = 0.0
            var g = [Double](repeating: 0, count: cc)
            var H = [[Double]](repeating: [Double](repeating: 0, count: cc), count: cc)
            for i in used {
                let d = ZernikeBasis.phase(c, basis, pixel: i)
                let cd = cos(d), sd = sin(d)
                let re = cd * s.xyRe[i] + sd * s.xyIm[i]           // Re(e^{−iδ} xy)
                let im = cd * s.xyIm[i] - sd * s.xyRe[i]           // Im(e^{−iδ} xy)
                let w = s.weight[i]
                cost += w - 2 * re + (s.xyRe[i] * s.xyRe[i] + s.xyIm[i] * s.xyIm[i]) / w
                // d/dδ of −2 Re(e^{−iδ} xy) = −2 Im(e^{−iδ} xy).
                ZernikeBasis.addChainRule(&g, &H, basis: basis, pixel: i, gradient: -2 * im, curvature: 2 * w)
            }
            return (cost, g, ZernikeBasis.symmetrised(H))
        }
        let refined = minimiseGaussNewton(start: linear, evaluate: evaluate)
        // Residual of y ≈ a t f e^{iδ} with the best amplitude a = Σ Re(e^{−iδ}xy) / Σ W; the
        // curvature of that residual in δ is a Σ Re(e^{−iδ}xy) Z Zᵀ.
        var sre = 0.0, sw = 0.0
        var curv = [[Double]](repeating: [Double](repeating: 0, count: cc), count: cc)
        var reList: [Double] = []
        for i in used {
            let d = ZernikeBasis.phase(refined.p, basis, pixel: i)
            let re = cos(d) * s.xyRe[i] + sin(d) * s.xyIm[i]
            sre += re; sw += s.weight[i]
            reList.append(re)
        }
        let amplitude = sw > 0 ? sre / sw : 0
        for (n, i) in used.enumerated() {
            let r = reList[n] * amplitude
            for a in 0..<cc { for bb in a..<cc { curv[a][bb] += r * basis[a][i] * basis[bb][i] } }
        }
        for a in 0..<cc { for bb in 0..<a { curv[a][bb] = curv[bb][a] } }
        let rss = max(0, s.observedEnergy - amplitude * sre)
        let sigma2 = rss / max(1, 2 * s.weightSum - Double(cc) - 1)
        guard amplitude > 0, let ci = DenseAlgebra.inverse(curv) else {
            throw EstimationError.underdetermined("optics group \(s.grid.opticsGroup): no consistent odd phase signal")
        }
        let cov = ci.map { $0.map { sigma2 * $0 } }
        return ZernikeEstimate(opticsGroup: s.grid.opticsGroup, particleCount: s.particleCount, order: order,
                               linearFit: linear, delta: refined.p, standardErrors: DenseAlgebra.standardErrors(cov),
                               covariance: cov, residualVariance: sigma2)
    }

    /// The Zernike fit, the new total odd coefficients (`current` + delta) and the beam tilt they
    /// contain (RELION's extractTilt with the group's Cs in mm and wavelength in Å).
    public static func fit(_ s: OddAberrationSums, order: Int = 3, current: [Double],
                           sphericalAberration cs: Double, wavelength lambda: Double) throws -> OddAberrationEstimate {
        let z = try fitZernike(s, order: order)
        let total = z.updated(current)
        let (tx, ty, remaining) = BeamTilt.extract(from: total, sphericalAberration: cs, wavelength: lambda)
        let scale = BeamTilt.scale(sphericalAberration: cs, wavelength: lambda)
        let ex = scale != 0 && z.standardErrors.count > 4 ? 3 * z.standardErrors[4] / abs(scale) : nil
        let ey = scale != 0 && z.standardErrors.count > 4 ? 3 * z.standardErrors[3] / abs(scale) : nil
        return OddAberrationEstimate(zernike: z, oddZernike: tx == nil ? total : remaining,
                                     beamTiltX: tx, beamTiltY: ty, beamTiltXError: ex, beamTiltYError: ey)
    }
}
