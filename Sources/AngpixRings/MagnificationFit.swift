// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The magnification matrix from ring radii measured in many directions.
//
// Conventions (those of RELION 3.1's rlnMagMat, see AngpixOptics/Matrix2x2.swift): a spatial
// frequency k observed in an image, in 1/Å computed with the nominal pixel size p, is mapped to
// the true frequency by k' = M k. A lattice spacing d gives a ring of true frequencies |k'| = 1/d,
// so every observed point k of ring j satisfies
//     kᵀ G k = 1/d_j²,   G = MᵀM,
// which is linear in the three entries of the symmetric G: one weighted linear least-squares fit
// over all rings and sectors (each equation divided by 1/d_j², with σ = 2 σ_r / r from the
// sector's radius error). A powder ring is blind to rotations (R M gives the same G), so M is
// taken as the symmetric square root G^{1/2}, the matrix RELION refines for a pure stretch.
//
// Derived quantities (m_max ≥ m_min the eigenvalues of M):
//   mean pixel size            p / √(det M) = p / √(m_max m_min)   (AngpixOptics/OpticsTrace.swift)
//   pixel size along the axes  p / m_min (major axis, the direction of lowest magnification: the
//                              ring's longest radius, where the image must be stretched) and p / m_max
//   major / minor scale        √(m_max / m_min) and its inverse: the stretches along the major and
//                              minor axes that make the image isotropic at the mean pixel size
//                              (area-preserving, so majorScale · minorScale = 1)
//   anisotropy                 (m_max / m_min − 1) · 100 %
//   major axis angle           the direction of the m_min eigenvector, degrees in (−90, 90],
//                              measured from the image's +x axis towards +y (x, y as stored in
//                              the MRC file: x = column, y = row).
// Uncertainties of the derived quantities: the covariance of G propagated through a numerical
// Jacobian (angles through their difference wrapped into ±90°).

import Foundation
import AngpixOptics

/// One measured ring radius: a direction, a radius in spectrum pixels, its error, and the ring.
public struct RingObservation: Sendable, Equatable {
    public var ring: Int
    /// The sector's direction, degrees in [0, 180).
    public var angle: Double
    /// The radius in pixels of the spectrum (cycles per tile).
    public var radius: Double
    public var radiusError: Double
    /// The spacing of the ring, Å.
    public var spacing: Double
}

/// The quantities derived from G, with their uncertainties.
public struct MagnificationEstimate: Sendable, Equatable {
    /// G = MᵀM as (g00, g01, g11), Å² (for frequencies in 1/Å at the nominal pixel size).
    public var g: [Double]
    /// Covariance of g (3 × 3, row-major).
    public var covariance: [Double]
    public var nominalPixelSize: Double

    public var matrix: Matrix2x2 { MagnificationEstimate.sqrtm(g) }

    static func sqrtm(_ g: [Double]) -> Matrix2x2 {
        let det = g[0] * g[2] - g[1] * g[1]
        let s = max(0, det).squareRoot()
        let t = (g[0] + g[2] + 2 * s).squareRoot()
        return Matrix2x2((g[0] + s) / t, g[1] / t, g[1] / t, (g[2] + s) / t)
    }

    /// (m_max, m_min, angle of the m_min eigenvector in degrees, (−90, 90]).
    static func eigen(_ g: [Double]) -> (Double, Double, Double) {
        let a = g[0], b = g[1], c = g[2]
        let mean = (a + c) / 2
        let disc = (((a - c) / 2) * ((a - c) / 2) + b * b).squareRoot()
        let lmax = mean + disc, lmin = max(0, mean - disc)
        // The eigenvector of the largest eigenvalue is at ½ atan2(2b, a − c); the smallest at +90°.
        var angle = 0.5 * atan2(2 * b, a - c) * 180 / Double.pi + 90
        while angle > 90 { angle -= 180 }
        while angle <= -90 { angle += 180 }
        return (lmax.squareRoot(), lmin.squareRoot(), angle)
    }

    /// The named derived quantities of g.
    static func derived(_ g: [Double], _ p: Double) -> [Double] {
        let (mx, mn, angle) = eigen(g)
        return [p / (mx * mn).squareRoot(),         // 0 mean pixel size
                (mx / mn).squareRoot(),             // 1 major scale
                (mn / mx).squareRoot(),             // 2 minor scale
                angle,                              // 3 major axis angle
                (mx / mn - 1) * 100,                // 4 anisotropy %
                p / mn,                             // 5 pixel size along the major axis
                p / mx,                             // 6 pixel size along the minor axis
                mx, mn]                             // 7, 8 eigenvalues of M
    }

    public var values: [Double] { MagnificationEstimate.derived(g, nominalPixelSize) }

    /// The standard errors of `values` from the covariance of g.
    public var errors: [Double] {
        let base = values
        var jac: [[Double]] = []
        for i in 0..<3 {
            let h = max(1e-9, abs(g[i]) * 1e-6)
            var gp = g, gm = g
            gp[i] += h; gm[i] -= h
            let vp = MagnificationEstimate.derived(gp, nominalPixelSize), vm = MagnificationEstimate.derived(gm, nominalPixelSize)
            jac.append(base.indices.map { k in
                var d = vp[k] - vm[k]
                if k == 3 { while d > 90 { d -= 180 }; while d < -90 { d += 180 } }
                return d / (2 * h)
            })
        }
        return base.indices.map { k in
            var v = 0.0
            for a in 0..<3 { for b in 0..<3 { v += jac[a][k] * covariance[a * 3 + b] * jac[b][k] } }
            return max(0, v).squareRoot()
        }
    }

    public var pixelSize: Double { values[0] }
    public var anisotropyPercent: Double { values[4] }
    public var majorAxisAngle: Double { values[3] }

    /// The radius (spectrum pixels) predicted for ring spacing d in direction `angle` (degrees)
    /// with tiles of T pixels.
    public func predictedRadius(spacing d: Double, angle: Double, tileSize t: Int) -> Double {
        let a = angle * Double.pi / 180
        let c = cos(a), s = sin(a)
        let q = g[0] * c * c + 2 * g[1] * c * s + g[2] * s * s
        return Double(t) * nominalPixelSize / (d * q.squareRoot())
    }
}

public enum MagnificationFitter {
    /// The weighted least-squares fit of G to the observations; outliers beyond 4σ (after
    /// scaling by the reduced χ²) are dropped, up to three times (the fourth fit is kept). Returns the estimate, the
    /// observations kept and the reduced χ²; nil if fewer than 3 observations or G is not
    /// positive definite.
    public static func fit(_ obs: [RingObservation], tileSize t: Int, nominalPixelSize p: Double)
        -> (MagnificationEstimate, [RingObservation], Double)? {
        var kept = obs
        for round in 0..<4 {
            guard kept.count >= 3 else { return nil }
            var ata = [[Double]](repeating: [Double](repeating: 0, count: 3), count: 3)
            var atb = [Double](repeating: 0, count: 3)
            var rows: [([Double], Double)] = []
            for o in kept {
                let a = o.angle * Double.pi / 180
                let k = o.radius / (Double(t) * p)
                let kx = k * cos(a), ky = k * sin(a)
                let d2 = o.spacing * o.spacing
                let row = [d2 * kx * kx, d2 * 2 * kx * ky, d2 * ky * ky]
                let sigma = max(1e-12, 2 * o.radiusError / o.radius)
                let w = 1 / (sigma * sigma)
                rows.append((row, sigma))
                for i in 0..<3 {
                    atb[i] += w * row[i]
                    for j in 0..<3 { ata[i][j] += w * row[i] * row[j] }
                }
            }
            guard let cov = invert(ata), let g = solve(ata, atb) else { return nil }
            var chi = 0.0
            var normalised: [Double] = []
            for (row, sigma) in rows {
                let e = (1 - (row[0] * g[0] + row[1] * g[1] + row[2] * g[2])) / sigma
                normalised.append(e); chi += e * e
            }
            let dof = Double(max(1, kept.count - 3))
            let red = chi / dof
            let scale = max(1, red)
            let limit = 4 * scale.squareRoot()
            let next = kept.indices.filter { abs(normalised[$0]) <= limit }.map { kept[$0] }
            // The last round keeps its fit even if it would drop more (spotty rings, e.g. flat
            // graphene flakes, always have a few sectors beyond 4σ).
            if next.count == kept.count || next.count < 3 || round == 3 {
                guard g[0] > 0, g[2] > 0, g[0] * g[2] - g[1] * g[1] > 0 else { return nil }
                let c = (0..<9).map { cov[$0 / 3][$0 % 3] * scale }
                return (MagnificationEstimate(g: g, covariance: c, nominalPixelSize: p), kept, red)
            }
            kept = next
        }
        return nil
    }
}
