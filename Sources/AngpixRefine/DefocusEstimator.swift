// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Per-particle defocus with per-micrograph astigmatism, RELION 3.1's default CtfRefine defocus
// mode (DefocusEstimator with --fit_mode fpmfm: ModularCtfOptimisation; DefocusHelper::
// findDefocus1D for the 1-D search; docs/refine.md, "How the fits work").
//
// RELION's parametrisation of the CTF phase at k' = M k:
//   γ = γ_rest + (dz + a1) x'² + 2 a2 x'y' + (dz − a1) y'²,   K1·A = [[dz + a1, a2], [a2, dz − a1]]
// (K1 = π λ, A = Qᵀ diag(−ΔfU, −ΔfV) Q; γ_rest holds Cs, amplitude contrast, phase shift and the
// even Zernike terms, all kept fixed). dz is per particle; a1, a2 and an amplitude scale k are per
// micrograph. The cost is RELION's Σ w |y − k · env · (−sin γ) · f|² over the micrograph's
// particles (env: the CTF's B-factor envelope and scale; the odd phase stays with f). The
// prediction is kept as its sine and cosine parts at the starting CTF (BoxedCTF.swift), so that a
// CTF applied on a field larger than the box and then boxed, as extraction does, is modelled too.
//
// 1. Per particle, a 1-D search of dz (ΔfU and ΔfV moved together, astigmatism kept) over
//    ±`searchRange` Å in steps small enough that the phase at the highest weighted frequency moves
//    by at most 0.5 rad, scoring with the particle's best amplitude (−(Σ w c Re(y f̄))² / Σ w c²|f|²).
// 2. Gauss–Newton (Levenberg–Marquardt) on all dz_p, a1, a2, k jointly (RELION uses L-BFGS), the
//    per-particle blocks eliminated by the Schur complement.
// Uncertainty of each defocus: the marginal variance from the inverse Gauss–Newton matrix times
// the micrograph's residual variance, in Å.

import Foundation
import AngpixFourier
import AngpixOptics

/// One particle's refined defocus.
public struct ParticleDefocus: Codable, Sendable, Equatable {
    /// The particle's row in the particle table (`ParticleObservation.row`).
    public var row: Int
    /// rlnDefocusU, rlnDefocusV (Å) and rlnDefocusAngle (°).
    public var defocusU: Double
    public var defocusV: Double
    public var defocusAngle: Double
    /// The standard error of the mean defocus (Å).
    public var defocusError: Double
    /// The change of the mean defocus from the input (Å).
    public var change: Double
    /// The particle's weighted squared residual Σ w |y − c f|² before and after.
    public var costBefore: Double
    public var costAfter: Double
}

/// The refined defocus of one micrograph's particles and its astigmatism.
public struct MicrographDefocus: Codable, Sendable, Equatable {
    public var micrographName: String
    public var particles: [ParticleDefocus]
    /// The micrograph's astigmatism ΔfU − ΔfV (Å, ≥ 0) and its angle (°), shared by its particles.
    public var astigmatism: Double
    public var astigmatismAngle: Double
    /// The fitted amplitude scale of the micrograph.
    public var amplitudeScale: Double
}

/// RELION 3.1's per-particle defocus refinement with per-micrograph astigmatism.
public enum DefocusEstimator {
    /// (ΔfU, ΔfV, angle °) of the symmetric matrix A = Qᵀ diag(−ΔfU, −ΔfV) Q, with ΔfU ≥ ΔfV and the
    /// angle in (−90, 90].
    public static func polar(axx: Double, axy: Double, ayy: Double) -> (defocusU: Double, defocusV: Double, defocusAngle: Double) {
        let mean = (axx + ayy) / 2
        let disc = (((axx - ayy) / 2) * ((axx - ayy) / 2) + axy * axy).squareRoot()
        let lmax = mean + disc, lmin = mean - disc
        var angle = 0.5 * atan2(2 * axy, axx - ayy) * 180 / Double.pi + 90
        while angle > 90 { angle -= 180 }
        while angle <= -90 { angle += 180 }
        return (-lmin, -lmax, angle)
    }

    /// The K1-scaled defocus matrix entries (dz, a1, a2) of a particle's CTF.
    static func encode(_ p: CTFParameters, k1: Double) -> (dz: Double, a1: Double, a2: Double) {
        let t = p.defocusAngle * Double.pi / 180
        let c = cos(t), s = sin(t)
        let du = -p.defocusU, dv = -p.defocusV
        let axx = k1 * (c * c * du + s * s * dv), axy = k1 * c * s * (du - dv), ayy = k1 * (s * s * du + c * c * dv)
        let dz = (axx + ayy) / 2
        return (dz, axx - dz, axy)
    }

    private struct Pixels {
        var q2: [Double] = [], qa: [Double] = [], qb: [Double] = []   // x'² + y'², x'² − y'², 2x'y'
        // The prediction at the starting CTF split into its sine and cosine parts, P_sin = −env sin γ₀ f
        // and P_cos = −env cos γ₀ f (f with its odd phase; boxed as extraction boxes them when the
        // observation carries them). At γ = γ₀ + ε the prediction is cos ε P_sin + sin ε P_cos.
        var sr: [Double] = [], si: [Double] = [], cr: [Double] = [], ci: [Double] = []
        var w: [Double] = []
        var yr: [Double] = [], yi: [Double] = []
        var dz0 = 0.0, a10 = 0.0, a20 = 0.0, k1 = 0.0
        var kmax2 = 0.0

        /// The prediction at pixel j for (dz, a1, a2): cos ε P_sin + sin ε P_cos, ε = γ − γ₀.
        @inline(__always) func model(_ j: Int, dz: Double, a1: Double, a2: Double) -> (Double, Double) {
            let e = (dz - dz0) * q2[j] + (a1 - a10) * qa[j] + (a2 - a20) * qb[j]
            let se = sin(e), ce = cos(e)
            return (ce * sr[j] + se * cr[j], ce * si[j] + se * ci[j])
        }
    }

    /// Refines the defocus of one micrograph's particles. `weights` maps an optics group to its
    /// frequency weights; `fitAstigmatism` false keeps each particle's astigmatism.
    public static func refine(_ observations: [ParticleObservation], weights: [Int: FrequencyWeights],
                              searchRange: Double = 2000, fitAstigmatism: Bool = true,
                              maxIterations: Int = 50) throws -> MicrographDefocus {
        guard let first = observations.first else { throw EstimationError.underdetermined("no particles") }
        var data: [Pixels] = []
        var wavelengths: [Double] = []
        for p in observations {
            guard let wts = weights[p.opticsGroup] else {
                throw EstimationError.incompatible("no frequency weights for optics group \(p.opticsGroup)")
            }
            let grid = SpectrumGrid(opticsGroup: p.opticsGroup, boxSize: p.boxSize, pixelSize: p.pixelSize)
            try grid.check(p, weights: wts)
            let ctf = try CTF(p.ctf)
            let k1 = Double.pi * ctf.wavelength
            wavelengths.append(ctf.wavelength)
            let (dz, a1, a2) = encode(p.ctf, k1: k1)
            var d = Pixels()
            d.dz0 = dz; d.a10 = a1; d.a20 = a2; d.k1 = k1
            let M = p.ctf.magMatrix ?? .identity
            for i in 0..<grid.count {
                let w = Double(wts.values[i])
                if w == 0 { continue }
                let k = grid.frequency(ofIndex: i)
                let q = M.apply(k.x, k.y)
                let xx = q.x * q.x, yy = q.y * q.y, xy = q.x * q.y
                d.q2.append(xx + yy); d.qa.append(xx - yy); d.qb.append(2 * xy)
                d.w.append(w)
                if let ps = p.ctfSine, let pc = p.ctfCosine {
                    d.sr.append(Double(ps[i].re)); d.si.append(Double(ps[i].im))
                    d.cr.append(Double(pc[i].re)); d.ci.append(Double(pc[i].im))
                } else {
                    let g0 = ctf.gamma(x: k.x, y: k.y)
                    let env = p.ctf.scale * exp(-p.ctf.bFactor / 4 * (xx + yy))
                    let phi = ctf.oddPhase(x: k.x, y: k.y)
                    let f = p.predicted[i]
                    let c = cos(phi), s = sin(phi)
                    let fr = (Double(f.re) * c - Double(f.im) * s) * env, fi = (Double(f.re) * s + Double(f.im) * c) * env
                    let sg = sin(g0), cg = cos(g0)
                    d.sr.append(-sg * fr); d.si.append(-sg * fi); d.cr.append(-cg * fr); d.ci.append(-cg * fi)
                }
                d.yr.append(Double(p.observed[i].re)); d.yi.append(Double(p.observed[i].im))
                d.kmax2 = max(d.kmax2, xx + yy)
            }
            data.append(d)
        }
        let n = data.count
        // Starting astigmatism: the micrograph's mean.
        var a1 = data.map(\.a10).reduce(0, +) / Double(n)
        var a2 = data.map(\.a20).reduce(0, +) / Double(n)
        var dz = data.map(\.dz0)
        var kf = 1.0

        // The particle's cost for (dz, a1, a2, kf) and, with `kf` nil, the best-amplitude score.
        func particleCost(_ d: Pixels, dz: Double, a1: Double, a2: Double, kf: Double?) -> Double {
            var e = 0.0, s1 = 0.0, s2 = 0.0
            for j in d.w.indices {
                let (mr, mi) = d.model(j, dz: dz, a1: a1, a2: a2)
                if let kf {
                    let rr = d.yr[j] - kf * mr, ri = d.yi[j] - kf * mi
                    e += d.w[j] * (rr * rr + ri * ri)
                } else {
                    s1 += d.w[j] * (d.yr[j] * mr + d.yi[j] * mi)
                    s2 += d.w[j] * (mr * mr + mi * mi)
                }
            }
            if kf != nil { return e }
            return s2 > 0 ? -max(0, s1) * max(0, s1) / s2 : 0
        }

        let costBefore = (0..<n).map { particleCost(data[$0], dz: dz[$0], a1: data[$0].a10, a2: data[$0].a20, kf: 1) }

        // 1. The 1-D search per particle (astigmatism at the micrograph's mean).
        for p in 0..<n {
            let d = data[p]
            guard d.kmax2 > 0 else { continue }
            let stepAngstrom = min(40, 0.5 / (d.k1 * d.kmax2))
            let steps = max(1, Int((searchRange / stepAngstrom).rounded(.up)))
            var best = dz[p], bestCost = particleCost(d, dz: dz[p], a1: a1, a2: a2, kf: nil)
            // The candidates are evenly spaced in dz, so each pixel's e^{iε} is advanced by a fixed
            // rotation e^{iΔ q²} from one candidate to the next instead of being recomputed.
            let delta = -d.k1 * searchRange / Double(steps)
            let m = d.w.count
            var ce = [Double](repeating: 0, count: m), se = ce, rc = ce, rs = ce
            for j in 0..<m {
                let e = Double(-steps) * delta * d.q2[j] + (a1 - d.a10) * d.qa[j] + (a2 - d.a20) * d.qb[j]
                ce[j] = cos(e); se[j] = sin(e)
                rc[j] = cos(delta * d.q2[j]); rs[j] = sin(delta * d.q2[j])
            }
            for s in -steps...steps {
                if s != 0 {
                    var s1 = 0.0, s2 = 0.0
                    for j in 0..<m {
                        let mr = ce[j] * d.sr[j] + se[j] * d.cr[j], mi = ce[j] * d.si[j] + se[j] * d.ci[j]
                        s1 += d.w[j] * (d.yr[j] * mr + d.yi[j] * mi)
                        s2 += d.w[j] * (mr * mr + mi * mi)
                    }
                    let c = s2 > 0 ? -max(0, s1) * max(0, s1) / s2 : 0
                    if c < bestCost { bestCost = c; best = d.dz0 + Double(s) * delta }
                }
                for j in 0..<m {
                    let c = ce[j] * rc[j] - se[j] * rs[j]
                    se[j] = se[j] * rc[j] + ce[j] * rs[j]
                    ce[j] = c
                }
            }
            dz[p] = best
        }
        // The amplitude scale for these defoci.
        do {
            var s1 = 0.0, s2 = 0.0
            for p in 0..<n {
                let d = data[p]
                for j in d.w.indices {
                    let (mr, mi) = d.model(j, dz: dz[p], a1: a1, a2: a2)
                    s1 += d.w[j] * (d.yr[j] * mr + d.yi[j] * mi)
                    s2 += d.w[j] * (mr * mr + mi * mi)
                }
            }
            if s2 > 0, s1 > 0 { kf = s1 / s2 }
        }

        // 2. Joint Gauss–Newton: per particle dz_p; shared (a1, a2, kf) or (kf) alone.
        let ng = fitAstigmatism ? 3 : 1
        struct Normal { var hpp: [Double]; var hpg: [[Double]]; var bp: [Double]; var hgg: [[Double]]; var bg: [Double]; var cost: Double }
        func normal(dz: [Double], a1: Double, a2: Double, kf: Double) -> Normal {
            var out = Normal(hpp: [Double](repeating: 0, count: n), hpg: [[Double]](repeating: [Double](repeating: 0, count: ng), count: n),
                             bp: [Double](repeating: 0, count: n), hgg: [[Double]](repeating: [Double](repeating: 0, count: ng), count: ng),
                             bg: [Double](repeating: 0, count: ng), cost: 0)
            for p in 0..<n {
                let d = data[p]
                for j in d.w.indices {
                    let e = (dz[p] - d.dz0) * d.q2[j] + (a1 - d.a10) * d.qa[j] + (a2 - d.a20) * d.qb[j]
                    let se = sin(e), ce = cos(e)
                    let w = d.w[j]
                    // m = kf (cos ε P_sin + sin ε P_cos);  r = y − m.
                    let kr = ce * d.sr[j] + se * d.cr[j], ki = ce * d.si[j] + se * d.ci[j]
                    let mr = kf * kr, mi = kf * ki
                    let rr = d.yr[j] - mr, ri = d.yi[j] - mi
                    out.cost += w * (rr * rr + ri * ri)
                    // ∂m/∂γ = kf (−sin ε P_sin + cos ε P_cos);  ∂m/∂kf = cos ε P_sin + sin ε P_cos.
                    let gr = kf * (ce * d.cr[j] - se * d.sr[j]), gi = kf * (ce * d.ci[j] - se * d.si[j])
                    let jp = (gr * d.q2[j], gi * d.q2[j])
                    var jg: [(Double, Double)] = []
                    if fitAstigmatism { jg = [(gr * d.qa[j], gi * d.qa[j]), (gr * d.qb[j], gi * d.qb[j]), (kr, ki)] } else { jg = [(kr, ki)] }
                    out.hpp[p] += 2 * w * (jp.0 * jp.0 + jp.1 * jp.1)
                    out.bp[p] += -2 * w * (jp.0 * rr + jp.1 * ri)
                    for a in 0..<ng {
                        out.hpg[p][a] += 2 * w * (jp.0 * jg[a].0 + jp.1 * jg[a].1)
                        out.bg[a] += -2 * w * (jg[a].0 * rr + jg[a].1 * ri)
                        for b in a..<ng { out.hgg[a][b] += 2 * w * (jg[a].0 * jg[b].0 + jg[a].1 * jg[b].1) }
                    }
                }
            }
            for a in 0..<ng { for b in 0..<a { out.hgg[a][b] = out.hgg[b][a] } }
            return out
        }
        var eq = normal(dz: dz, a1: a1, a2: a2, kf: kf)
        var mu = 1e-3
        var converged = false
        for _ in 0..<maxIterations where !converged {
            var accepted = false
            for _ in 0..<20 {
                // Damped Schur complement: S = Hgg − Σ Hgp Hpp⁻¹ Hpg, rhs = −bg + Σ Hgp Hpp⁻¹ bp.
                let hpp = eq.hpp.map { $0 * (1 + mu) + 1e-300 }
                var S = eq.hgg
                for a in 0..<ng { S[a][a] *= (1 + mu) }
                var rhs = eq.bg.map { -$0 }
                for p in 0..<n {
                    for a in 0..<ng {
                        rhs[a] += eq.hpg[p][a] * eq.bp[p] / hpp[p]
                        for b in 0..<ng { S[a][b] -= eq.hpg[p][a] * eq.hpg[p][b] / hpp[p] }
                    }
                }
                guard let dg = DenseAlgebra.solve(S, rhs) else { mu *= 10; continue }
                var dzNew = dz
                for p in 0..<n {
                    var v = -eq.bp[p]
                    for a in 0..<ng { v -= eq.hpg[p][a] * dg[a] }
                    dzNew[p] += v / hpp[p]
                }
                let a1New = fitAstigmatism ? a1 + dg[0] : a1
                let a2New = fitAstigmatism ? a2 + dg[1] : a2
                let kfNew = kf + dg[ng - 1]
                let next = normal(dz: dzNew, a1: a1New, a2: a2New, kf: kfNew)
                if next.cost.isFinite && next.cost <= eq.cost {
                    let gain = eq.cost - next.cost
                    dz = dzNew; a1 = a1New; a2 = a2New; kf = kfNew; eq = next
                    mu = max(mu / 10, 1e-9)
                    accepted = true
                    converged = gain <= 1e-9 * eq.cost
                    break
                }
                mu *= 10
            }
            if !accepted { converged = true }
        }

        // Marginal variances of dz_p from the undamped Gauss–Newton matrix (½ of it is JᵀJ).
        var S = eq.hgg
        for p in 0..<n { for a in 0..<ng { for b in 0..<ng { S[a][b] -= eq.hpg[p][a] * eq.hpg[p][b] / max(eq.hpp[p], 1e-300) } } }
        let Si = DenseAlgebra.inverse(S)
        let wsum = data.reduce(0) { $0 + $1.w.reduce(0, +) }
        let sigma2 = eq.cost / max(1, 2 * wsum - Double(n + ng))
        var particles: [ParticleDefocus] = []
        for p in 0..<n {
            let d = data[p]
            var v = 1 / max(eq.hpp[p], 1e-300)
            if let Si {
                for a in 0..<ng { for b in 0..<ng {
                    v += (eq.hpg[p][a] / eq.hpp[p]) * Si[a][b] * (eq.hpg[p][b] / eq.hpp[p])
                } }
            }
            let varDz = 2 * sigma2 * v
            let pa1 = fitAstigmatism ? a1 : d.a10, pa2 = fitAstigmatism ? a2 : d.a20
            let (u, vv, angle) = polar(axx: (dz[p] + pa1) / d.k1, axy: pa2 / d.k1, ayy: (dz[p] - pa1) / d.k1)
            particles.append(ParticleDefocus(row: observations[p].row, defocusU: u, defocusV: vv, defocusAngle: angle,
                                             defocusError: max(0, varDz).squareRoot() / d.k1,
                                             change: -(dz[p] - d.dz0) / d.k1,
                                             costBefore: costBefore[p],
                                             costAfter: particleCost(d, dz: dz[p], a1: pa1, a2: pa2, kf: kf)))
        }
        let k1 = Double.pi * (wavelengths.reduce(0, +) / Double(n))
        let astig = polar(axx: a1 / k1, axy: a2 / k1, ayy: -a1 / k1)
        return MicrographDefocus(micrographName: first.micrographName, particles: particles,
                                 astigmatism: astig.defocusU - astig.defocusV, astigmatismAngle: astig.defocusAngle,
                                 amplitudeScale: kf)
    }
}
