// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The radius of a diffraction ring in one direction, with sub-pixel precision and an uncertainty:
// the radial profile of the power spectrum in an angular sector (pixels binned by radius in
// half-pixel steps, each bin at the mean radius of its pixels) is fitted by a Gaussian peak on a
// quadratic background, all six parameters jointly (Levenberg–Marquardt, covariance scaled by
// the reduced χ²).
//
// Why r·P(r) is fitted rather than P(r): randomly oriented crystallites give, in 3D, an
// intensity that is spherically symmetric about the origin; averaging any isotropic peak kernel
// K (the crystallites' shape transform) over the sphere |g| gives I(q) ∝ (1/q)·[G(|q − g|) −
// G(q + g)] with G(x) = ∫ₓ^∞ K(s) s ds, and the 2D spectrum of a projection is its central
// section (projection-slice theorem). So q·I(q) is symmetric about g, while I(q) itself peaks
// inside g by about w²/g (w the peak width): 0.01–0.03 % for crystallites of a few nm.
// Envelopes that fall across the peak (atomic form factor, CTF envelope, detector MTF) still
// shift it inward by w² · d ln E/dq; that bias is not corrected (see docs/calibrate-rings.md).

import Foundation

/// The fit of one radial profile.
public struct PeakFit: Sendable, Equatable {
    /// The peak's centre (pixels of the spectrum) and its standard error.
    public var radius: Double
    public var radiusError: Double
    /// The Gaussian's standard deviation (pixels).
    public var width: Double
    /// The peak height and its standard error.
    public var amplitude: Double
    public var amplitudeError: Double
    /// The background at the peak.
    public var background: Double
    /// The reduced χ² of the fit (with the bins' own weights).
    public var reducedChiSquare: Double

    /// The amplitude in standard errors.
    public var significance: Double { amplitudeError > 0 ? amplitude / amplitudeError : 0 }
}

/// A radial profile: bins of a spectrum's values by radius.
public struct RadialProfile: Sendable {
    /// The mean radius of each bin's pixels.
    public var radius: [Double]
    /// The mean of r·P(r) over each bin's pixels.
    public var value: [Double]
    /// The number of pixels in each bin.
    public var count: [Double]

    public init(radius: [Double], value: [Double], count: [Double]) {
        self.radius = radius; self.value = value; self.count = count
    }

    /// Only the bins with pixels.
    var nonEmpty: RadialProfile {
        let keep = count.indices.filter { count[$0] > 0 }
        return RadialProfile(radius: keep.map { radius[$0] }, value: keep.map { value[$0] }, count: keep.map { count[$0] })
    }
}

enum PeakFitter {
    /// The model: A exp(−(r − r0)²/(2s²)) + c0 + c1 u + c2 u², u = (r − centre)/scale.
    /// Parameters: [A, r0, s, c0, c1, c2].
    static func model(_ p: [Double], _ r: Double, centre: Double, scale: Double) -> Double {
        let d = (r - p[1]) / p[2]
        let u = (r - centre) / scale
        return p[0] * exp(-0.5 * d * d) + p[3] + p[4] * u + p[5] * u * u
    }

    /// The fit of the linear parameters (A, c0, c1, c2) for fixed r0 and s: (parameters, χ²).
    static func linear(_ prof: RadialProfile, r0: Double, s: Double, centre: Double, scale: Double) -> ([Double], Double)? {
        var ata = [[Double]](repeating: [Double](repeating: 0, count: 4), count: 4)
        var atb = [Double](repeating: 0, count: 4)
        for i in prof.radius.indices {
            let r = prof.radius[i], w = prof.count[i]
            let d = (r - r0) / s, u = (r - centre) / scale
            let row = [exp(-0.5 * d * d), 1, u, u * u]
            for a in 0..<4 {
                atb[a] += w * row[a] * prof.value[i]
                for b in 0..<4 { ata[a][b] += w * row[a] * row[b] }
            }
        }
        guard let x = solve(ata, atb) else { return nil }
        let p = [x[0], r0, s, x[1], x[2], x[3]]
        var chi = 0.0
        for i in prof.radius.indices {
            let e = prof.value[i] - model(p, prof.radius[i], centre: centre, scale: scale)
            chi += prof.count[i] * e * e
        }
        return (p, chi)
    }

    /// A grid search over the centre (inside [lo, hi]) and a few widths, then a full fit.
    static func search(_ prof: RadialProfile, lo: Double, hi: Double, widths: [Double]) -> PeakFit? {
        let centre = (lo + hi) / 2, scale = max(1e-9, (hi - lo) / 2)
        var best: ([Double], Double)? = nil
        let step = max(0.1, widths.min()! / 3)
        var r = lo
        while r <= hi {
            for s in widths {
                if let f = linear(prof, r0: r, s: s, centre: centre, scale: scale), f.0[0] > 0, best == nil || f.1 < best!.1 { best = f }
            }
            r += step
        }
        guard let start = best else { return nil }
        return refine(prof, start: start.0, centre: centre, scale: scale)
    }

    /// Levenberg–Marquardt from `start`; nil if the fit does not converge to a sensible peak.
    static func refine(_ prof: RadialProfile, start: [Double], centre: Double, scale: Double) -> PeakFit? {
        let n = prof.radius.count
        guard n >= 10 else { return nil }
        var p = start
        func chi2(_ q: [Double]) -> Double {
            var c = 0.0
            for i in 0..<n {
                let e = prof.value[i] - model(q, prof.radius[i], centre: centre, scale: scale)
                c += prof.count[i] * e * e
            }
            return c
        }
        func jacobianRow(_ q: [Double], _ r: Double) -> [Double] {
            let d = (r - q[1]) / q[2]
            let g = exp(-0.5 * d * d)
            let u = (r - centre) / scale
            return [g, q[0] * g * d / q[2], q[0] * g * d * d / q[2], 1, u, u * u]
        }
        var lambda = 1e-3
        var current = chi2(p)
        for _ in 0..<100 {
            var jtj = [[Double]](repeating: [Double](repeating: 0, count: 6), count: 6)
            var jtr = [Double](repeating: 0, count: 6)
            for i in 0..<n {
                let row = jacobianRow(p, prof.radius[i])
                let e = prof.value[i] - model(p, prof.radius[i], centre: centre, scale: scale)
                let w = prof.count[i]
                for a in 0..<6 {
                    jtr[a] += w * row[a] * e
                    for b in 0..<6 { jtj[a][b] += w * row[a] * row[b] }
                }
            }
            var improved = false
            for _ in 0..<20 {
                var m = jtj
                for a in 0..<6 { m[a][a] *= (1 + lambda); if m[a][a] == 0 { m[a][a] = 1e-12 } }
                guard let dp = solve(m, jtr) else { lambda *= 10; continue }
                var q = p
                for a in 0..<6 { q[a] += dp[a] }
                q[2] = abs(q[2])
                let c = chi2(q)
                if c.isFinite && c <= current {
                    let rel = (current - c) / max(current, 1e-300)
                    p = q; current = c; lambda = max(lambda / 10, 1e-12); improved = true
                    if rel < 1e-12 { lambda = -1 }
                    break
                }
                lambda *= 10
            }
            if !improved || lambda < 0 { break }
        }
        // Covariance.
        var jtj = [[Double]](repeating: [Double](repeating: 0, count: 6), count: 6)
        for i in 0..<n {
            let row = jacobianRow(p, prof.radius[i])
            let w = prof.count[i]
            for a in 0..<6 { for b in 0..<6 { jtj[a][b] += w * row[a] * row[b] } }
        }
        guard let cov = invert(jtj) else { return nil }
        let dof = Double(max(1, n - 6))
        let s2 = current / dof
        // The bins' weights are pixel counts, so σ² of one pixel is estimated by s2.
        let radiusError = (max(0, cov[1][1]) * s2).squareRoot()
        let ampError = (max(0, cov[0][0]) * s2).squareRoot()
        guard p.allSatisfy(\.isFinite), p[2] > 0, radiusError.isFinite else { return nil }
        let u = (p[1] - centre) / scale
        return PeakFit(radius: p[1], radiusError: radiusError, width: p[2], amplitude: p[0], amplitudeError: ampError,
                       background: p[3] + p[4] * u + p[5] * u * u, reducedChiSquare: s2)
    }
}

/// Solves a small dense system by Gaussian elimination with partial pivoting.
func solve(_ a: [[Double]], _ b: [Double]) -> [Double]? {
    let n = b.count
    var m = a, v = b
    for c in 0..<n {
        var piv = c
        for r in (c + 1)..<max(c + 1, n) where abs(m[r][c]) > abs(m[piv][c]) { piv = r }
        guard abs(m[piv][c]) > 1e-300, m[piv][c].isFinite else { return nil }
        if piv != c { m.swapAt(piv, c); v.swapAt(piv, c) }
        for r in (c + 1)..<max(c + 1, n) {
            let f = m[r][c] / m[c][c]
            if f == 0 { continue }
            for k in c..<n { m[r][k] -= f * m[c][k] }
            v[r] -= f * v[c]
        }
    }
    var x = [Double](repeating: 0, count: n)
    for r in stride(from: n - 1, through: 0, by: -1) {
        var s = v[r]
        for k in (r + 1)..<max(r + 1, n) { s -= m[r][k] * x[k] }
        x[r] = s / m[r][r]
    }
    return x.allSatisfy(\.isFinite) ? x : nil
}

/// The inverse of a small dense matrix.
func invert(_ a: [[Double]]) -> [[Double]]? {
    let n = a.count
    var cols: [[Double]] = []
    for c in 0..<n {
        var e = [Double](repeating: 0, count: n)
        e[c] = 1
        guard let x = solve(a, e) else { return nil }
        cols.append(x)
    }
    return (0..<n).map { r in (0..<n).map { c in cols[c][r] } }
}
