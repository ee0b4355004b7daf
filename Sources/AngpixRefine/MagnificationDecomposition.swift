// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A magnification matrix M (rlnMagMat, k' = M k) as the numbers angpix reports, in the
// conventions of AngpixRings/MagnificationFit.swift and AngpixOptics/OpticsTrace.swift:
//
//   isotropic scale        m = √|det M|                  (OpticsTrace's m_g)
//   relative pixel size    1 / m: the group's true pixel size relative to the reference's
//                          (nominal × 1/m is the pixel size the matrix implies; a 2 % too small
//                          nominal pixel size gives m = 1/1.02 and 1.02 × nominal)
//   anisotropy             (σ_max / σ_min − 1) · 100 %, σ the singular values of M
//   major axis angle       the direction of least magnification (the eigenvector of MᵀM with the
//                          smallest eigenvalue), degrees in (−90, 90] from +x towards +y
// and the inverse for a symmetric stretch: M = R(θ) diag(a, b) R(−θ), magnification a along the
// direction θ. (RELION's MagnificationHelper::polarToMatrix builds R(−θ) diag(a, b) R(θ): its
// angle is measured the other way round.)

import Foundation
import AngpixOptics

/// A magnification matrix as isotropic scale, anisotropy and axis (see the file header).
public struct MagnificationDecomposition: Codable, Sendable, Equatable {
    /// √|det M|.
    public var isotropicScale: Double
    /// 1 / √|det M|: the pixel size implied relative to the nominal one.
    public var relativePixelSize: Double
    /// (σ_max / σ_min − 1) · 100.
    public var anisotropyPercent: Double
    /// The direction of least magnification, degrees in (−90, 90].
    public var majorAxisAngle: Double

    public init(_ m: Matrix2x2) {
        let v = MagnificationDecomposition.values(m)
        isotropicScale = v[0]; relativePixelSize = v[1]; anisotropyPercent = v[2]; majorAxisAngle = v[3]
    }

    /// [scale, relative pixel size, anisotropy %, major axis °] of M.
    static func values(_ m: Matrix2x2) -> [Double] {
        let s = m.isotropicScale
        // G = MᵀM, its eigen-decomposition.
        let a = m.m00 * m.m00 + m.m10 * m.m10, c = m.m01 * m.m01 + m.m11 * m.m11
        let b = m.m00 * m.m01 + m.m10 * m.m11
        let mean = (a + c) / 2
        let disc = (((a - c) / 2) * ((a - c) / 2) + b * b).squareRoot()
        let lmax = mean + disc, lmin = max(0, mean - disc)
        var angle = 0.5 * atan2(2 * b, a - c) * 180 / Double.pi + 90
        while angle > 90 { angle -= 180 }
        while angle <= -90 { angle += 180 }
        let aniso = lmin > 0 ? ((lmax / lmin).squareRoot() - 1) * 100 : .infinity
        return [s, 1 / s, aniso, angle]
    }

    /// R(θ) diag(scaleMajor, scaleMinor) R(−θ), θ in degrees: `scaleMajor` along θ, `scaleMinor` across.
    public static func matrix(scaleMajor: Double, scaleMinor: Double, angle: Double) -> Matrix2x2 {
        let t = angle * Double.pi / 180
        let s = sin(t), c = cos(t)
        let off = (scaleMajor - scaleMinor) * s * c
        return Matrix2x2(scaleMajor * c * c + scaleMinor * s * s, off, off, scaleMajor * s * s + scaleMinor * c * c)
    }

    /// The stretch with isotropic scale `scale`, anisotropy `anisotropyPercent` and the least
    /// magnification along `majorAxisAngle` (the inverse of `init`).
    public static func matrix(scale: Double, anisotropyPercent: Double, majorAxisAngle: Double) -> Matrix2x2 {
        let r = (1 + anisotropyPercent / 100).squareRoot()
        return matrix(scaleMajor: scale / r, scaleMinor: scale * r, angle: majorAxisAngle)
    }
}

/// The standard errors of a `MagnificationDecomposition` propagated from the covariance of a matrix.
public struct MagnificationUncertainty: Codable, Sendable, Equatable {
    public var isotropicScale: Double
    public var relativePixelSize: Double
    /// Percentage points.
    public var anisotropyPercent: Double
    /// Degrees (large when the anisotropy is at the noise level: the axis is then undetermined).
    public var majorAxisAngle: Double

    public init(isotropicScale: Double, relativePixelSize: Double, anisotropyPercent: Double, majorAxisAngle: Double) {
        self.isotropicScale = isotropicScale
        self.relativePixelSize = relativePixelSize
        self.anisotropyPercent = anisotropyPercent
        self.majorAxisAngle = majorAxisAngle
    }

    /// The standard error of the mean of two independent estimates (the two half sets, or two
    /// halves of the micrographs): |a − b| / 2 for each quantity (the axis difference wrapped into ±90°).
    /// A check on the normal equations' errors, which assume the same noise level for all particles.
    public init(halfSet a: MagnificationDecomposition, _ b: MagnificationDecomposition) {
        var angle = a.majorAxisAngle - b.majorAxisAngle
        while angle > 90 { angle -= 180 }
        while angle < -90 { angle += 180 }
        self.init(isotropicScale: abs(a.isotropicScale - b.isotropicScale) / 2,
                  relativePixelSize: abs(a.relativePixelSize - b.relativePixelSize) / 2,
                  anisotropyPercent: abs(a.anisotropyPercent - b.anisotropyPercent) / 2,
                  majorAxisAngle: abs(angle) / 2)
    }

    /// Propagates the 4 × 4 covariance of (m00, m01, m10, m11) through the decomposition.
    public init(matrix m: Matrix2x2, covariance: [[Double]]) {
        let p = [m.m00, m.m01, m.m10, m.m11]
        let C = DenseAlgebra.propagate(p, covariance: covariance, steps: [Double](repeating: 1e-7, count: 4),
                                       wrap: [nil, nil, nil, 180]) {
            MagnificationDecomposition.values(Matrix2x2($0[0], $0[1], $0[2], $0[3]))
        }
        let e = DenseAlgebra.standardErrors(C)
        isotropicScale = e[0]; relativePixelSize = e[1]; anisotropyPercent = e[2]; majorAxisAngle = min(e[3], 90)
    }
}
