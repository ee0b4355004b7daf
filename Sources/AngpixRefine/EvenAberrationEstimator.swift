// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The symmetric (even) aberrations of an optics group (RELION 3.1 AberrationEstimator and
// TiltHelper::fitEvenZernike / optimiseEvenZernike; docs/refine.md, "How the fits work").
//
// Per pixel, with γ the particle's current CTF phase (including the group's current rlnEvenZernike,
// as AngpixOptics' CTF evaluates it at M·k), f the prediction times the CTF's envelope and scale,
// and y the observation, the model y ≈ −f (u sin γ + v cos γ) has the least-squares normal equations
//   A = Σ w |f|² [[sin²γ, sin γ cos γ], [sin γ cos γ, cos²γ]],   b = −Σ w Re(y f̄) (sin γ, cos γ).
// (u, v) = A⁻¹ b ≈ (cos δ, sin δ): δ = atan2(v, u) is the phase missing from γ at that pixel.
// The coefficients: first a weighted linear fit of δ by the even Zernike polynomials Z(M k)
// (weights √|det A|, RELION's choice), then a refinement of the coefficients c against the sums.
// RELION minimises Σ eᵀ A e, e = (cos φ − u, sin φ − v), φ = Σ c_j Z_j (its AnisoBasisOptimisation:
// the residual of y ≈ −f sin(γ + φ) with the prediction's amplitude taken as exact). Where the
// data are weaker than the prediction (the half map's noise is in f, and extraction loses
// delocalised signal) that cost pulls φ towards the CTF's zeros, which reduce |f sin|: on simulated
// particles at SNR 0.1 a Cs error's Z40 came out 2.7× too large, its half sets 1.3 apart; with each
// pixel's amplitude free, 1.4× (halves 0.03 apart), and the rest was extraction's boxing
// (BoxedCTF.swift). Here each pixel keeps its own amplitude a: minimise Σ min_a (u − a p)ᵀ A (u − a p),
// p = (cos φ, sin φ), i.e. Σ [uᵀAu − (pᵀAu)² / pᵀAp], which uses only the phase of each pixel's
// (u, v) and equals RELION's minimum when the amplitudes agree. Minimised by Gauss–Newton
// (RELION: Nelder–Mead). The result is a DELTA: new rlnEvenZernike = current + delta
// (RELION's getGamma leaves the current terms out and writes the fit itself; both give the same
// total). Uncertainties: σ² · (Σ J A Jᵀ)⁻¹, σ² from the weighted residual.

import Foundation
import AngpixFourier
import AngpixOptics

/// The additive per-pixel sums of one optics group for the even-aberration fit.
public struct EvenAberrationSums: Codable, Sendable, Equatable {
    public var grid: SpectrumGrid
    /// The group's magnification matrix (the Zernike polynomials are evaluated at M·k).
    public var magMatrix: Matrix2x2
    public var particleCount: Int
    /// Per pixel: Σ w|f|² sin²γ, Σ w|f|² sinγ cosγ, Σ w|f|² cos²γ.
    public var axx: [Double], axy: [Double], ayy: [Double]
    /// Per pixel: −Σ w Re(y f̄) sin γ, −Σ w Re(y f̄) cos γ.
    public var bx: [Double], by: [Double]
    /// Σ w |y|² and Σ w over all pixels and particles (for the residual variance).
    public var observedEnergy: Double
    public var weightSum: Double

    public init(grid: SpectrumGrid, magMatrix: Matrix2x2 = .identity) {
        self.grid = grid
        self.magMatrix = magMatrix
        particleCount = 0
        let z = [Double](repeating: 0, count: grid.count)
        axx = z; axy = z; ayy = z; bx = z; by = z
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
            // The prediction's sine and cosine parts: −env sin γ e^{iφ} f and −env cos γ e^{iφ} f
            // (boxed as extraction boxes them when the observation carries them).
            let sr: Double, si: Double, cr: Double, ci: Double
            if let ps = p.ctfSine, let pc = p.ctfCosine {
                sr = Double(ps[i].re); si = Double(ps[i].im); cr = Double(pc[i].re); ci = Double(pc[i].im)
            } else {
                let g = table.gamma(tp, i)
                let env = table.envelope(tp, i)
                let (oc, os) = table.oddPhasor(i)
                let fr0 = Double(p.predicted[i].re) * env, fi0 = Double(p.predicted[i].im) * env
                let fr = fr0 * oc - fi0 * os, fi = fr0 * os + fi0 * oc
                let sg = sin(g), cg = cos(g)
                sr = -sg * fr; si = -sg * fi; cr = -cg * fr; ci = -cg * fi
            }
            let yr = Double(p.observed[i].re), yi = Double(p.observed[i].im)
            axx[i] += w * (sr * sr + si * si)
            axy[i] += w * (sr * cr + si * ci)
            ayy[i] += w * (cr * cr + ci * ci)
            bx[i] += w * (yr * sr + yi * si)
            by[i] += w * (yr * cr + yi * ci)
            energy += w * (yr * yr + yi * yi)
            wsum += w
        }
        observedEnergy += energy
        weightSum += wsum
        particleCount += 1
    }

    public mutating func merge(_ o: EvenAberrationSums) throws {
        try grid.check(o.grid)
        guard magMatrix == o.magMatrix else { throw EstimationError.incompatible("different magnification matrices") }
        addInPlace(&axx, o.axx); addInPlace(&axy, o.axy); addInPlace(&ayy, o.ayy)
        addInPlace(&bx, o.bx); addInPlace(&by, o.by)
        observedEnergy += o.observedEnergy; weightSum += o.weightSum; particleCount += o.particleCount
    }

    public static func + (a: EvenAberrationSums, b: EvenAberrationSums) -> EvenAberrationSums {
        var out = a
        do { try out.merge(b) } catch { preconditionFailure("\(error)") }
        return out
    }
}

/// A fit of Zernike coefficients with their uncertainties.
public struct ZernikeEstimate: Codable, Sendable, Equatable {
    public var opticsGroup: Int
    public var particleCount: Int
    /// The radial order fitted (4 or 6 for even terms, 3 or 5 for odd ones).
    public var order: Int
    /// The linear fit's coefficients (RELION order), before the refinement.
    public var linearFit: [Double]
    /// The refined coefficients to ADD to the group's current ones (radians, RELION's units).
    public var delta: [Double]
    /// Standard errors of `delta`.
    public var standardErrors: [Double]
    /// The covariance of `delta`.
    public var covariance: [[Double]]
    /// The weighted residual variance per real value.
    public var residualVariance: Double

    /// The standard errors of the mean of two half sets' fits: |a − b| / 2 per coefficient.
    public static func halfSetStandardErrors(_ a: ZernikeEstimate, _ b: ZernikeEstimate) -> [Double] {
        zip(a.delta, b.delta).map { abs($0 - $1) / 2 }
    }

    /// The new coefficients: `current` + `delta` (padded to the longer length).
    public func updated(_ current: [Double]) -> [Double] {
        var out = current + [Double](repeating: 0, count: max(0, delta.count - current.count))
        for i in delta.indices { out[i] += delta[i] }
        return out
    }
}

/// The per-pixel phase images of an aberration fit, for plots (half-complex layout, radians).
public struct PhaseImage: Sendable, Equatable {
    public var grid: SpectrumGrid
    /// The phase per pixel (0 where undetermined).
    public var phase: [Double]
    /// The confidence weight per pixel of the linear fit.
    public var weight: [Double]
}

/// RELION 3.1's symmetric-aberration fit (see the file header).
public enum EvenAberrationEstimator {
    /// The sums of one optics group's observations; the matrix defaults to the first particle's.
    public static func accumulate(_ observations: [ParticleObservation], grid: SpectrumGrid, magMatrix: Matrix2x2? = nil,
                                  weights: FrequencyWeights) throws -> EvenAberrationSums {
        var s = EvenAberrationSums(grid: grid, magMatrix: magMatrix ?? observations.first?.ctf.magMatrix ?? .identity)
        let table = observations.first.map { TransferTable(grid: grid, ctf: $0.ctf) }
        for p in observations { try s.add(p, weights: weights, table: table) }
        return s
    }

    /// The per-pixel optimum (u, v) and phase δ = atan2(v, u), with the weight √|det A|.
    public static func perPixelPhase(_ s: EvenAberrationSums) -> (u: [Double], v: [Double], image: PhaseImage) {
        let n = s.grid.count
        var u = [Double](repeating: 0, count: n), v = u, phase = u, weight = u
        for i in 0..<n {
            let det = s.axx[i] * s.ayy[i] - s.axy[i] * s.axy[i]
            guard det != 0, det.isFinite else { continue }
            u[i] = (s.ayy[i] * s.bx[i] - s.axy[i] * s.by[i]) / det
            v[i] = (s.axx[i] * s.by[i] - s.axy[i] * s.bx[i]) / det
            phase[i] = u[i] != 0 ? atan2(v[i], u[i]) : 0
            weight[i] = abs(det).squareRoot()
        }
        return (u, v, PhaseImage(grid: s.grid, phase: phase, weight: weight))
    }

    /// The fitted phase Σ c_j Z_j(M k) on the grid.
    public static func phaseImage(_ coefficients: [Double], grid: SpectrumGrid, magMatrix: Matrix2x2, odd: Bool) -> [Double] {
        (0..<grid.count).map { i in
            let k = grid.frequency(ofIndex: i)
            let q = magMatrix.apply(k.x, k.y)
            return odd ? Zernike.oddPhase(coefficients, x: q.x, y: q.y) : Zernike.evenPhase(coefficients, x: q.x, y: q.y)
        }
    }

    /// Fits the even Zernike terms up to radial order `order` (4 → 9 coefficients, 6 → 16).
    public static func fit(_ s: EvenAberrationSums, order: Int = 4) throws -> ZernikeEstimate {
        guard order >= 0, order % 2 == 0 else { throw EstimationError.underdetermined("the even order must be even (4 or 6), not \(order)") }
        let cc = ZernikeBasis.evenCount(order: order)
        let basis = ZernikeBasis.images(grid: s.grid, magMatrix: s.magMatrix, count: cc, odd: false)
        let (u, v, img) = perPixelPhase(s)
        let used = (0..<s.grid.count).filter { img.weight[$0] > 0 }
        let linear = try ZernikeBasis.linearFit(basis: basis, phase: img.phase, weight: img.weight, used: used,
                                                opticsGroup: s.grid.opticsGroup)
        // Refinement against the per-pixel quadratic forms, one amplitude per resolution shell.
        let extent = Double(s.grid.boxSize) * s.grid.pixelSize
        let shellOf: [Int] = used.map { i in
            let k = s.grid.frequency(ofIndex: i)
            return Int(((k.x * k.x + k.y * k.y).squareRoot() * extent).rounded())
        }
        let shellCount = (shellOf.max() ?? 0) + 1
        let evaluate: ([Double]) -> (cost: Double, gradient: [Double], hessian: [[Double]]) = { c in
            var cost = 0.0
            var g = [Double](repeating: 0, count: cc)
            var H = [[Double]](repeating: [Double](repeating: 0, count: cc), count: cc)
            // Per pixel: p = (cos φ, sin φ), p⊥ = (−sin φ, cos φ); N = pᵀA(u, v), D = pᵀAp. Per shell
            // the best amplitude a = Σ N / Σ D, and the cost Σ uᵀAu − (Σ N)² / Σ D.
            var n = [Double](repeating: 0, count: used.count), np = n, d = n, dp = n, perp = n
            var shellN = [Double](repeating: 0, count: shellCount), shellD = shellN
            for (m, i) in used.enumerated() {
                let phi = ZernikeBasis.phase(c, basis, pixel: i)
                let cp = cos(phi), sp = sin(phi)
                let axx = s.axx[i], axy = s.axy[i], ayy = s.ayy[i]
                let au = axx * u[i] + axy * v[i], av = axy * u[i] + ayy * v[i]
                n[m] = cp * au + sp * av; np[m] = -sp * au + cp * av
                let apx = axx * cp + axy * sp, apy = axy * cp + ayy * sp
                d[m] = cp * apx + sp * apy
                dp[m] = 2 * (-sp * apx + cp * apy)
                perp[m] = sp * sp * axx - 2 * sp * cp * axy + cp * cp * ayy
                shellN[shellOf[m]] += n[m]; shellD[shellOf[m]] += d[m]
                cost += u[i] * au + v[i] * av
            }
            // The amplitude is not allowed below 0: a shell turned by π would fit as well otherwise.
            for sh in 0..<shellCount where shellD[sh] > 0 && shellN[sh] > 0 { cost -= shellN[sh] * shellN[sh] / shellD[sh] }
            for (m, i) in used.enumerated() {
                let sd = shellD[shellOf[m]]
                if sd <= 0 || shellN[shellOf[m]] <= 0 { continue }
                let amp = shellN[shellOf[m]] / sd
                let dphi = -2 * amp * np[m] + amp * amp * dp[m]
                ZernikeBasis.addChainRule(&g, &H, basis: basis, pixel: i, gradient: dphi, curvature: 2 * amp * amp * perp[m])
            }
            return (cost, g, ZernikeBasis.symmetrised(H))
        }
        let refined = minimiseGaussNewton(start: linear, evaluate: evaluate)
        // Residual: Σ w|y|² − Σ bᵀA⁻¹b (per-pixel optimum) + the fit's excess cost.
        var perPixelMin = 0.0
        for i in used { perPixelMin += u[i] * s.bx[i] + v[i] * s.by[i] }
        let rss = max(0, s.observedEnergy - perPixelMin + refined.cost)
        let sigma2 = rss / max(1, 2 * s.weightSum - Double(cc))
        // Cov = σ² (JᵀAJ)⁻¹, and the Gauss–Newton matrix above is 2 JᵀAJ.
        guard let hi = DenseAlgebra.inverse(refined.hessian) else {
            throw EstimationError.underdetermined("optics group \(s.grid.opticsGroup): singular refinement")
        }
        let cov = hi.map { $0.map { 2 * sigma2 * $0 } }
        return ZernikeEstimate(opticsGroup: s.grid.opticsGroup, particleCount: s.particleCount, order: order,
                               linearFit: linear, delta: refined.p, standardErrors: DenseAlgebra.standardErrors(cov),
                               covariance: cov, residualVariance: sigma2)
    }
}
