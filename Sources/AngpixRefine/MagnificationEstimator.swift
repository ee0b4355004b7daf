// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The anisotropic magnification of an optics group from its particles (RELION 3.1
// MagnificationHelper::updateScaleFreq, solvePerPixel, solveLinearlyFreq; docs/refine.md,
// "How the fits work").
//
// Per pixel k, with the prediction f (at M_old·k), its gradient g = ∇ₖf, the transfer t (the CTF
// c at M_old·k, times the odd-aberration phase e^{iφ}, which is 1 without odd terms) and the
// observation y, the model is y ≈ a · t · (f + g·d): d(k) a small displacement of the frequency,
// a the group's amplitude scale. With the weight w of the pixel, summed over the group's particles:
//   A   += w |t|² (g_r g_rᵀ + g_i g_iᵀ)          2 × 2 (RELION's Axx, Axy, Ayy)
//   b   += w Re(conj(t g) (y − t f))             2     (RELION's bx, by)
//   ff  += w |t|² |f|²,  fg += w |t|² Re(f̄ g),  bf += w Re(conj(t f) (y − t f))   (amplitude terms)
// RELION's per-pixel displacement is A⁻¹ b; the fit is the linear field d = D k over all pixels,
// jointly with α = a − 1 (the linearisation a t (f + g·d) ≈ t f + α t f + t g·d):
//   θ = (D00, D01, D10, D11, α),  per pixel (α, d) = J θ,  Σ Jᵀ H_pixel J θ = Σ Jᵀ b_pixel,
// with H_pixel = [[ff, fgᵀ], [fg, A]] and b_pixel = (bf, b). The gradient is on the observed grid,
// so M_new = M_old · (I + D) (RELION, whose gradient is in the reference's frame, writes the same
// update as (I + D') · M_old with D' = M_old D M_old⁻¹). Without the amplitude term (RELION) the fit is the 4 × 4 system of A and b alone; the
// amplitude (the pixel area, |det M|, that real images carry and RELION's model lacks) then leaks
// into the isotropic scale, which is why RELION converges to a biased matrix. With it, iterating
// (re-predicting at M_new) converges to the true matrix.
//
// Uncertainties: the residual Σ w |y − t f|² is kept, so the weighted residual after the fit is
// E − θᵀ b_total (the quadratic model's minimum); σ² = that / (2 Σ w − 5), and the covariance of θ is
// σ² H⁻¹ (exact for weights 0 or 1, an approximation for fractional FSC weights).

import Foundation
import AngpixFourier
import AngpixOptics

/// The additive per-pixel sums of one optics group for the magnification fit (merge shards with `+`).
public struct MagnificationSums: Codable, Sendable, Equatable {
    public var grid: SpectrumGrid
    /// The number of particles summed.
    public var particleCount: Int
    /// Per pixel: Σ w |t|² (g_r g_rᵀ + g_i g_iᵀ) entries.
    public var axx: [Double], axy: [Double], ayy: [Double]
    /// Per pixel: Σ w Re(conj(t g) (y − t f)).
    public var bx: [Double], by: [Double]
    /// Per pixel: Σ w |t|²|f|², Σ w |t|² Re(f̄ g_x), Σ w |t|² Re(f̄ g_y), Σ w Re(conj(t f)(y − t f)).
    public var ff: [Double], fgx: [Double], fgy: [Double], bf: [Double]
    /// Per pixel: Σ w ρ |t|²|f|², the part of `ff` that is the reference's signal. The prediction
    /// comes from a half map whose noise is independent of the images; ρ = S / (S + N) is the
    /// fraction of its power that is signal, which for a half map is the FSC between the two half
    /// maps, i.e. the weight w itself (1 for a noise-free reference).
    public var ffSignal: [Double]
    /// Σ w |y − t f|² over all pixels and particles.
    public var residualEnergy: Double
    /// Σ w over all pixels and particles.
    public var weightSum: Double

    public init(grid: SpectrumGrid) {
        self.grid = grid
        particleCount = 0
        let z = [Double](repeating: 0, count: grid.count)
        axx = z; axy = z; ayy = z; bx = z; by = z; ff = z; fgx = z; fgy = z; bf = z; ffSignal = z
        residualEnergy = 0; weightSum = 0
    }

    /// Adds one particle (its group's weights multiply every pixel's contribution); `table`, made
    /// once for the group, saves evaluating the Zernike phases per particle.
    public mutating func add(_ p: ParticleObservation, weights: FrequencyWeights, table: TransferTable? = nil) throws {
        try grid.check(p, weights: weights, needsGradients: true)
        _ = try CTF(p.ctf)
        let table = table.flatMap { $0.grid == grid && $0.fits(p.ctf) ? $0 : nil } ?? TransferTable(grid: grid, ctf: p.ctf)
        let tp = table.particle(p.ctf)
        let gxs = p.gradientX!, gys = p.gradientY!
        var energy = 0.0, wsum = 0.0
        for i in 0..<grid.count {
            let w = Double(weights.values[i])
            if w == 0 { continue }
            let t = table.transfer(tp, i)
            let f = p.predicted[i], y = p.observed[i], gx = gxs[i], gy = gys[i]
            // t·f, t·g, residual r = y − t f.
            let tfr = t.re * Double(f.re) - t.im * Double(f.im), tfi = t.re * Double(f.im) + t.im * Double(f.re)
            let txr = t.re * Double(gx.re) - t.im * Double(gx.im), txi = t.re * Double(gx.im) + t.im * Double(gx.re)
            let tyr = t.re * Double(gy.re) - t.im * Double(gy.im), tyi = t.re * Double(gy.im) + t.im * Double(gy.re)
            let rr = Double(y.re) - tfr, ri = Double(y.im) - tfi
            axx[i] += w * (txr * txr + txi * txi)
            axy[i] += w * (txr * tyr + txi * tyi)
            ayy[i] += w * (tyr * tyr + tyi * tyi)
            bx[i] += w * (txr * rr + txi * ri)
            by[i] += w * (tyr * rr + tyi * ri)
            let power = tfr * tfr + tfi * tfi
            ff[i] += w * power
            ffSignal[i] += w * w * power
            fgx[i] += w * (tfr * txr + tfi * txi)
            fgy[i] += w * (tfr * tyr + tfi * tyi)
            bf[i] += w * (tfr * rr + tfi * ri)
            energy += w * (rr * rr + ri * ri)
            wsum += w
        }
        residualEnergy += energy
        weightSum += wsum
        particleCount += 1
    }

    /// Adds another shard's sums of the same group and grid.
    public mutating func merge(_ o: MagnificationSums) throws {
        try grid.check(o.grid)
        addInPlace(&axx, o.axx); addInPlace(&axy, o.axy); addInPlace(&ayy, o.ayy)
        addInPlace(&bx, o.bx); addInPlace(&by, o.by)
        addInPlace(&ff, o.ff); addInPlace(&ffSignal, o.ffSignal); addInPlace(&fgx, o.fgx); addInPlace(&fgy, o.fgy); addInPlace(&bf, o.bf)
        residualEnergy += o.residualEnergy
        weightSum += o.weightSum
        particleCount += o.particleCount
    }

    /// The sum of two shards (they must share group and grid; use `merge` to get an error instead).
    public static func + (a: MagnificationSums, b: MagnificationSums) -> MagnificationSums {
        var out = a
        do { try out.merge(b) } catch { preconditionFailure("\(error)") }
        return out
    }
}

/// The result of one magnification pass for one optics group.
public struct MagnificationEstimate: Codable, Sendable, Equatable {
    public var opticsGroup: Int
    public var particleCount: Int
    /// D of the fitted field d = D k (dimensionless).
    public var displacementMatrix: Matrix2x2
    /// C = M_new · M_old⁻¹: the change multiplied onto the group's matrix from the left (RELION's form).
    public var change: Matrix2x2
    /// The matrix the fit started from (rlnMagMat of the particles; identity if absent).
    public var previousMatrix: Matrix2x2
    /// M_old · (I + D): the new rlnMagMat00…11.
    public var matrix: Matrix2x2
    /// The fitted amplitude scale a of the group (1 when the amplitude was not fitted).
    public var amplitudeScale: Double
    /// Covariance of (m00, m01, m10, m11) of `matrix`.
    public var covariance: [[Double]]
    /// Scale, relative pixel size, anisotropy and axis of `matrix`.
    public var decomposition: MagnificationDecomposition
    /// Their standard errors from the normal equations.
    public var uncertainty: MagnificationUncertainty
    /// The weighted residual variance per real value (σ²).
    public var residualVariance: Double

    /// The pixel size (Å) the matrix implies for a nominal one: nominal / √|det M|.
    public func impliedPixelSize(nominal: Double) -> Double { nominal * decomposition.relativePixelSize }
}

/// The displacement fields of a magnification fit as images for plots.
public struct DisplacementField: Sendable, Equatable {
    public var grid: SpectrumGrid
    /// Per-pixel displacement (1/Å), half-complex layout; 0 where the pixel's 2 × 2 system is singular.
    public var x: [Double], y: [Double]
}

/// RELION 3.1's anisotropic magnification fit with the group's amplitude scale (see the file header).
public enum MagnificationEstimator {
    /// Accumulates the sums of one optics group's observations.
    public static func accumulate(_ observations: [ParticleObservation], grid: SpectrumGrid,
                                  weights: FrequencyWeights) throws -> MagnificationSums {
        var s = MagnificationSums(grid: grid)
        let table = observations.first.map { TransferTable(grid: grid, ctf: $0.ctf) }
        for p in observations { try s.add(p, weights: weights, table: table) }
        return s
    }

    /// The per-pixel displacement A⁻¹ b (RELION's solvePerPixel), in 1/Å.
    public static func perPixelDisplacement(_ s: MagnificationSums) -> DisplacementField {
        var dx = [Double](repeating: 0, count: s.grid.count), dy = dx
        for i in 0..<s.grid.count {
            let det = s.axx[i] * s.ayy[i] - s.axy[i] * s.axy[i]
            guard det != 0, det.isFinite else { continue }
            dx[i] = (s.ayy[i] * s.bx[i] - s.axy[i] * s.by[i]) / det
            dy[i] = (s.axx[i] * s.by[i] - s.axy[i] * s.bx[i]) / det
        }
        return DisplacementField(grid: s.grid, x: dx, y: dy)
    }

    /// The fitted field d = D k on the grid, in 1/Å.
    public static func fittedDisplacement(_ e: MagnificationEstimate, grid: SpectrumGrid) -> DisplacementField {
        let D = e.displacementMatrix
        var dx = [Double](repeating: 0, count: grid.count), dy = dx
        for i in 0..<grid.count {
            let k = grid.frequency(ofIndex: i)
            (dx[i], dy[i]) = D.apply(k.x, k.y)
        }
        return DisplacementField(grid: grid, x: dx, y: dy)
    }

    /// Solves the sums for D (and the amplitude scale when `fitAmplitude`), composes the new
    /// matrix with `previousMatrix` and propagates the uncertainties.
    public static func solve(_ raw: MagnificationSums, previousMatrix: Matrix2x2 = .identity,
                             fitAmplitude: Bool = true, matchShellAmplitudes: Bool = true) throws -> MagnificationEstimate {
        let s = matchShellAmplitudes ? shellMatched(raw) : signalOnly(raw)
        let n = fitAmplitude ? 5 : 4
        var H = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        var b = [Double](repeating: 0, count: n)
        for i in 0..<s.grid.count where s.ff[i] != 0 || s.axx[i] != 0 || s.ayy[i] != 0 {
            let k = s.grid.frequency(ofIndex: i)
            let x = k.x, y = k.y
            // Rows of J for dx (θ0, θ1) and dy (θ2, θ3).
            let axx = s.axx[i], axy = s.axy[i], ayy = s.ayy[i]
            let xx = x * x, xy = x * y, yy = y * y
            let block: [[Double]] = [[xx * axx, xy * axx, xx * axy, xy * axy],
                                     [xy * axx, yy * axx, xy * axy, yy * axy],
                                     [xx * axy, xy * axy, xx * ayy, xy * ayy],
                                     [xy * axy, yy * axy, xy * ayy, yy * ayy]]
            for r in 0..<4 { for c in 0..<4 { H[r][c] += block[r][c] } }
            b[0] += x * s.bx[i]; b[1] += y * s.bx[i]; b[2] += x * s.by[i]; b[3] += y * s.by[i]
            if fitAmplitude {
                let cross = [x * s.fgx[i], y * s.fgx[i], x * s.fgy[i], y * s.fgy[i]]
                for r in 0..<4 { H[r][4] += cross[r]; H[4][r] += cross[r] }
                H[4][4] += s.ff[i]
                b[4] += s.bf[i]
            }
        }
        guard s.weightSum > 0, let theta = DenseAlgebra.solve(H, b), let Hi = DenseAlgebra.inverse(H) else {
            throw EstimationError.underdetermined("optics group \(s.grid.opticsGroup): no weighted signal with gradients (\(s.particleCount) particles)")
        }
        var reduction = 0.0
        for i in 0..<n { reduction += theta[i] * b[i] }
        let dof = max(1, 2 * s.weightSum - Double(n))
        let sigma2 = max(0, s.residualEnergy - reduction) / dof
        let D = Matrix2x2(theta[0], theta[1], theta[2], theta[3])
        // The gradient is taken on the observed grid (ParticleObservation), so the fitted
        // displacement acts before M_old: M_new = M_old (I + D). As a change in the reference's
        // frame (RELION's form M_new = C M_old, which the defocus carrying uses) C = M_old (I + D) M_old⁻¹.
        let P = previousMatrix
        let M = P * Matrix2x2(1 + theta[0], theta[1], theta[2], 1 + theta[3])
        let change = P.inverse.map { M * $0 } ?? Matrix2x2(1 + theta[0], theta[1], theta[2], 1 + theta[3])
        // Covariance of D (4 × 4), then of M = M_old (I + D): M_ij = Σ_k P_ik (δ_kj + D_kj),
        // linear in D with the Jacobian ∂M_ij/∂D_kj = P_ik.
        let covD = (0..<4).map { r in (0..<4).map { c in sigma2 * Hi[r][c] } }
        let pm = [[P.m00, P.m01], [P.m10, P.m11]]
        var J = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
        for i in 0..<2 { for j in 0..<2 { for k in 0..<2 { J[i * 2 + j][k * 2 + j] = pm[i][k] } } }
        var covM = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
        for a in 0..<4 { for c in 0..<4 {
            var v = 0.0
            for p in 0..<4 { for q in 0..<4 { v += J[a][p] * covD[p][q] * J[c][q] } }
            covM[a][c] = v
        } }
        return MagnificationEstimate(opticsGroup: s.grid.opticsGroup, particleCount: s.particleCount,
                                     displacementMatrix: D, change: change, previousMatrix: previousMatrix, matrix: M,
                                     amplitudeScale: fitAmplitude ? 1 + theta[4] : 1, covariance: covM,
                                     decomposition: MagnificationDecomposition(M),
                                     uncertainty: MagnificationUncertainty(matrix: M, covariance: covM),
                                     residualVariance: sigma2)
    }

    /// The sums as if each prediction had been scaled, shell by shell, by β = Σ Re(conj(t f) y) /
    /// Σ |t f|² (the ratio of the observed to the predicted amplitude in that resolution shell,
    /// over the group's particles). Real images lose high-frequency amplitude that the reference's
    /// projection keeps (signal delocalised out of the box by the CTF, the detector's MTF, B-factors);
    /// the fitted displacement is then scaled by that β where the gradient is largest, which shrank
    /// a 2 % error to a 0.5 % step on simulated particles. With the prediction matched per shell the
    /// linear model y ≈ β t (f + g·d) is unbiased again; all that is needed is already in the sums:
    /// A' = β² A, b' = β b + (β − β²) Σ Re(conj(t f) t g), ff' = β² ff, fg' = β² fg,
    /// bf' = β (bf + ff) − β² ff, E' = E + Σ [2 (1 − β)(bf + ff) + (β² − 1) ff], where β and the
    /// amplitude terms use the signal part of |t f|² (`ffSignal`, see `signalOnly`).
    public static func shellMatched(_ s: MagnificationSums) -> MagnificationSums {
        let box = s.grid.boxSize, extent = Double(box) * s.grid.pixelSize
        let shells = box / 2 + 2
        func shell(_ i: Int) -> Int {
            let k = s.grid.frequency(ofIndex: i)
            return min(shells - 1, Int(((k.x * k.x + k.y * k.y).squareRoot() * extent).rounded()))
        }
        var cross = [Double](repeating: 0, count: shells), power = [Double](repeating: 0, count: shells)
        for i in 0..<s.grid.count where s.ff[i] != 0 {
            let sh = shell(i)
            cross[sh] += s.bf[i] + s.ff[i]
            power[sh] += s.ffSignal[i]
        }
        let beta = (0..<shells).map { power[$0] > 0 ? cross[$0] / power[$0] : 1 }
        var o = s
        var energy = s.residualEnergy
        for i in 0..<s.grid.count where s.ff[i] != 0 || s.axx[i] != 0 || s.ayy[i] != 0 {
            let b = beta[shell(i)], b2 = b * b
            let r = s.bf[i] + s.ff[i]
            o.axx[i] = b2 * s.axx[i]; o.axy[i] = b2 * s.axy[i]; o.ayy[i] = b2 * s.ayy[i]
            o.bx[i] = b * s.bx[i] + (b - b2) * s.fgx[i]
            o.by[i] = b * s.by[i] + (b - b2) * s.fgy[i]
            o.ff[i] = b2 * s.ffSignal[i]; o.ffSignal[i] = o.ff[i]
            o.fgx[i] = b2 * s.fgx[i]; o.fgy[i] = b2 * s.fgy[i]
            o.bf[i] = b * r - b2 * s.ffSignal[i]
            energy += 2 * (1 - b) * r + (b2 - 1) * s.ff[i]
        }
        o.residualEnergy = max(0, energy)
        return o
    }

    /// The sums with the prediction's noise taken out of the amplitude terms: the half map's noise
    /// is in f but not in y, so Σ w |t f|² overstates the signal's power by the noise's and
    /// Σ w Re(conj(t f)(y − t f)) is pulled negative by it, which biases the amplitude and, through
    /// its correlation with the isotropic scale, the pixel size (+0.04 % on 3 × 2,000 simulated
    /// particles at SNR 0.1 with half maps to 3 Å). Replacing |t f|² by its signal part (`ffSignal`)
    /// makes the equations' expectation vanish at the true matrix again (the noise's power is flat
    /// in k, so the other sums are unbiased). `shellMatched` does the same while matching.
    public static func signalOnly(_ s: MagnificationSums) -> MagnificationSums {
        var o = s
        for i in 0..<s.grid.count where s.ff[i] != 0 {
            o.bf[i] = s.bf[i] + s.ff[i] - s.ffSignal[i]
            o.ff[i] = s.ffSignal[i]
        }
        return o
    }

    /// RELION's default carrying of one micrograph's defocus into the new coordinates (its
    /// adaptAstigmatism without --part_astig): each particle keeps its own mean defocus (½ trace of
    /// C⁻ᵀ A C⁻¹), and all get the astigmatism (difference and angle) of the micrograph's mean
    /// matrix. `particles` are one micrograph's particles of one optics group.
    public static func carryAstigmatism(micrograph particles: [(defocusU: Double, defocusV: Double, defocusAngle: Double)],
                                        change: Matrix2x2) -> [(defocusU: Double, defocusV: Double, defocusAngle: Double)] {
        guard let ci = change.inverse, !particles.isEmpty else { return particles }
        let cit = Matrix2x2(ci.m00, ci.m10, ci.m01, ci.m11)
        func matrix(_ p: (defocusU: Double, defocusV: Double, defocusAngle: Double)) -> Matrix2x2 {
            let t = p.defocusAngle * Double.pi / 180
            let c = cos(t), s = sin(t)
            let du = -p.defocusU, dv = -p.defocusV
            return cit * Matrix2x2(c * c * du + s * s * dv, c * s * (du - dv), c * s * (du - dv), s * s * du + c * c * dv) * ci
        }
        let transformed = particles.map(matrix)
        let n = Double(particles.count)
        let mean = transformed.reduce(Matrix2x2(0, 0, 0, 0)) {
            Matrix2x2($0.m00 + $1.m00 / n, $0.m01 + $1.m01 / n, $0.m10 + $1.m10 / n, $0.m11 + $1.m11 / n)
        }
        let m = DefocusEstimator.polar(axx: mean.m00, axy: 0.5 * (mean.m01 + mean.m10), ayy: mean.m11)
        let meanDefocus = (m.defocusU + m.defocusV) / 2
        return transformed.map { a in
            let own = -(a.m00 + a.m11) / 2
            return (m.defocusU - meanDefocus + own, m.defocusV - meanDefocus + own, m.defocusAngle)
        }
    }

    /// The defocus and astigmatism that keep a particle's CTF unchanged when its group's matrix is
    /// multiplied by `change` (RELION's adaptAstigmatism per particle: A' = C⁻ᵀ A C⁻¹ with
    /// A = Qᵀ diag(−ΔfU, −ΔfV) Q); returns (defocusU, defocusV, defocusAngle°).
    public static func carryAstigmatism(defocusU: Double, defocusV: Double, defocusAngle: Double,
                                        change: Matrix2x2) -> (defocusU: Double, defocusV: Double, defocusAngle: Double) {
        guard let ci = change.inverse else { return (defocusU, defocusV, defocusAngle) }
        let t = defocusAngle * Double.pi / 180
        let c = cos(t), s = sin(t)
        let du = -defocusU, dv = -defocusV
        let a = Matrix2x2(c * c * du + s * s * dv, c * s * (du - dv), c * s * (du - dv), s * s * du + c * c * dv)
        let cit = Matrix2x2(ci.m00, ci.m10, ci.m01, ci.m11)
        let a2 = cit * a * ci
        return DefocusEstimator.polar(axx: a2.m00, axy: 0.5 * (a2.m01 + a2.m10), ayy: a2.m11)
    }
}
