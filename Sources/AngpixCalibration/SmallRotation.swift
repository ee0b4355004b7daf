// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Rotations given as rotation vectors ω (degrees): the rotation by |ω| about the axis ω/|ω|
// (Rodrigues' formula, R = I + sin θ K + (1 − cos θ) K², K the cross-product matrix of the unit
// axis). Used for the small rotation of a model refined together with the pixel size; for small
// angles the three components are rotations about x, y and z.

import Foundation

/// A 3×3 rotation matrix (rows) built from a rotation vector in degrees.
public struct SmallRotation: Sendable, Equatable {
    public var rows: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>)

    public static func == (l: SmallRotation, r: SmallRotation) -> Bool {
        l.rows.0 == r.rows.0 && l.rows.1 == r.rows.1 && l.rows.2 == r.rows.2
    }

    /// The rotation by |degrees| about the axis `degrees` (the identity for a zero vector).
    public init(degrees: SIMD3<Double>) {
        let theta = (degrees * degrees).sum().squareRoot() * Double.pi / 180
        guard theta > 0 else {
            rows = (SIMD3(1, 0, 0), SIMD3(0, 1, 0), SIMD3(0, 0, 1))
            return
        }
        let k = degrees / (degrees * degrees).sum().squareRoot()
        let s = sin(theta), c = 1 - cos(theta)
        rows = (SIMD3(1 - c * (k.y * k.y + k.z * k.z), -s * k.z + c * k.x * k.y, s * k.y + c * k.x * k.z),
                SIMD3(s * k.z + c * k.x * k.y, 1 - c * (k.x * k.x + k.z * k.z), -s * k.x + c * k.y * k.z),
                SIMD3(-s * k.y + c * k.x * k.z, s * k.x + c * k.y * k.z, 1 - c * (k.x * k.x + k.y * k.y)))
    }

    public init(rows: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>)) { self.rows = rows }

    /// R·v.
    @inline(__always)
    public func apply(_ v: SIMD3<Double>) -> SIMD3<Double> {
        SIMD3((rows.0 * v).sum(), (rows.1 * v).sum(), (rows.2 * v).sum())
    }

    /// self · other.
    public func then(_ other: SmallRotation) -> SmallRotation {
        // (other ∘ self) would apply self first; here the product self·other applies other first.
        let c0 = SIMD3(other.rows.0.x, other.rows.1.x, other.rows.2.x)
        let c1 = SIMD3(other.rows.0.y, other.rows.1.y, other.rows.2.y)
        let c2 = SIMD3(other.rows.0.z, other.rows.1.z, other.rows.2.z)
        func row(_ r: SIMD3<Double>) -> SIMD3<Double> { SIMD3((r * c0).sum(), (r * c1).sum(), (r * c2).sum()) }
        return SmallRotation(rows: (row(rows.0), row(rows.1), row(rows.2)))
    }

    /// The rotation angle (degrees), from the trace.
    public var angle: Double {
        let trace = rows.0.x + rows.1.y + rows.2.z
        return acos(max(-1, min(1, (trace - 1) / 2))) * 180 / Double.pi
    }
}
