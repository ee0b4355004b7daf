// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A real 2×2 matrix, used for RELION's anisotropic magnification matrix (rlnMagMat00…11 in
// data_optics), which RELION applies to a spatial frequency before evaluating the CTF:
// k' = M k, i.e. x' = m00 x + m01 y, y' = m10 x + m11 y (src/ctf.h, CTF::getCTF).

/// A 2×2 matrix (row-major: m00 m01 / m10 m11).
public struct Matrix2x2: Sendable, Equatable, Codable {
    public var m00: Double, m01: Double, m10: Double, m11: Double

    public init(_ m00: Double, _ m01: Double, _ m10: Double, _ m11: Double) {
        self.m00 = m00; self.m01 = m01; self.m10 = m10; self.m11 = m11
    }

    /// The identity.
    public static let identity = Matrix2x2(1, 0, 0, 1)

    /// A uniform scale s (s 0 / 0 s).
    public static func scale(_ s: Double) -> Matrix2x2 { Matrix2x2(s, 0, 0, s) }

    public var determinant: Double { m00 * m11 - m01 * m10 }

    /// The inverse, or nil when the matrix is singular (|det| below 1e-12 or not finite).
    public var inverse: Matrix2x2? {
        let d = determinant
        guard d.isFinite, abs(d) > 1e-12 else { return nil }
        return Matrix2x2(m11 / d, -m01 / d, -m10 / d, m00 / d)
    }

    /// M · (x, y).
    public func apply(_ x: Double, _ y: Double) -> (x: Double, y: Double) {
        (m00 * x + m01 * y, m10 * x + m11 * y)
    }

    public static func * (a: Matrix2x2, b: Matrix2x2) -> Matrix2x2 {
        Matrix2x2(a.m00 * b.m00 + a.m01 * b.m10, a.m00 * b.m01 + a.m01 * b.m11,
                  a.m10 * b.m00 + a.m11 * b.m10, a.m10 * b.m01 + a.m11 * b.m11)
    }

    /// The isotropic part of the magnification: √|det M| (the geometric mean of the singular values).
    public var isotropicScale: Double { abs(determinant).squareRoot() }

    /// The singular values (largest first): the magnifications along the principal directions.
    public var singularValues: (major: Double, minor: Double) {
        // For M = [a b; c d]: σ² are the eigenvalues of MᵀM.
        let p = m00 * m00 + m10 * m10, q = m01 * m01 + m11 * m11, r = m00 * m01 + m10 * m11
        let mean = (p + q) / 2
        let disc = (((p - q) / 2) * ((p - q) / 2) + r * r).squareRoot()
        return ((mean + disc).squareRoot(), max(0, mean - disc).squareRoot())
    }
}
