// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The conventions that map cryoSPARC's particle parameters onto RELION's, each with its evidence
// (docs/cryosparc.md has the long form):
//
// Orientation. cryoSPARC stores `alignments3D/pose` as a rotation vector (axis × angle, radians).
//   Let R be its rotation matrix by Rodrigues' formula, R = I + sin θ [w]× + (1 − cos θ)[w]×².
//   RELION's matrix A (src/euler.cpp Euler_angles2matrix, ZYZ; A maps map coordinates into the
//   image frame, the projection runs along the image z) is Rᵀ. Evidence: pyem (asarnow/pyem,
//   pyem/geom/convert.py expmap + rot2euler, used by csparc2star.py) builds the matrix with the
//   negated cross-product matrix, i.e. Rᵀ, and decomposes it with RELION's Euler convention.
//   `alignments2D/pose` is the in-plane angle θ (radians): A = Rz(θ)ᵀ, i.e. rlnAnglePsi = θ.
// Shifts. `alignments*/shift` is in pixels of `alignments*/psize_A` (the refinement's pixel size,
//   which differs from `blob/psize_A` after a refinement of downsampled particles);
//   rlnOriginX/YAngst = shift × alignments psize_A, same sign (pyem copies the shift unchanged).
// Magnification. `ctf/anisomag` is D − I, row-major (a b c d) = [[a, b], [c, d]], zeros meaning no
//   distortion (cryosparc-tools docs/examples/magnification.ipynb). The same notebook rescales a
//   data set from pixel size p₂ to p₁ with D' = D·p₂/p₁, so D multiplies the pixel size: it acts on
//   real-space image coordinates (x fast, y slow), r_true = D r. A wave of true frequency k then
//   appears at k_nominal = Dᵀ k, so the frequency where the CTF must be evaluated is D⁻ᵀ k.
//   RELION evaluates its CTF at M k (src/ctf.h getCTF: Xd = M00 X + M01 Y), hence
//   rlnMagMat = D⁻ᵀ = (I + anisomag)⁻ᵀ (≈ I − anisomagᵀ; not anisomag, not I + anisomag).
// Aberrations (cryoSPARC's "all CTF length parameters use Å": a wave aberration W in Å gives the
//   phase 2π W / λ, with W a polynomial in the scattering angle λk):
//   tilt_A (2): coma W = λ³ |k|² (k · tilt_A), tilt_A = Cs · beam tilt (rad) — pyem's relation
//     (metadata/cryosparc2.py: tilt = asin(tilt_A / Cs)); written as rlnBeamTiltX/Y in mrad,
//     which RELION turns into odd Zernike terms (jaz/single_particle/ctf/tilt_helper.cpp insertTilt)
//     giving the odd phase −2π Cs λ² |k|² (k · t). Same signs as pyem.
//   trefoil_A (2): W = λ³ |k|³ (tx cos 3φ + ty sin 3φ), same sign as the tilt.
//   tetra_A (4): W = λ⁴ |k|⁴ (a cos 4φ + b sin 4φ + c cos 2φ + d sin 2φ) added to γ like Cs.
//   The trefoil and tetrafoil bases are not published by cryoSPARC; they are assumptions, and
//   the converter warns whenever they are non-zero.

import Foundation
import AngpixOptics

/// A 3×3 matrix, row-major.
public struct Matrix3: Sendable, Equatable {
    public var m: [Double]
    public init(_ m: [Double]) { precondition(m.count == 9); self.m = m }
    public subscript(_ r: Int, _ c: Int) -> Double { m[3 * r + c] }
    public var transposed: Matrix3 { Matrix3([m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]]) }
    public static func * (a: Matrix3, b: Matrix3) -> Matrix3 {
        var out = [Double](repeating: 0, count: 9)
        for r in 0..<3 { for c in 0..<3 { for k in 0..<3 { out[3 * r + c] += a[r, k] * b[k, c] } } }
        return Matrix3(out)
    }
    public func apply(_ v: (Double, Double, Double)) -> (Double, Double, Double) {
        (m[0] * v.0 + m[1] * v.1 + m[2] * v.2, m[3] * v.0 + m[4] * v.1 + m[5] * v.2, m[6] * v.0 + m[7] * v.1 + m[8] * v.2)
    }
}

public enum CryoSPARCConventions {
    /// The rotation matrix of a rotation vector (axis × angle in radians), Rodrigues' formula.
    public static func rotationMatrix(rotationVector v: (Double, Double, Double)) -> Matrix3 {
        let theta = (v.0 * v.0 + v.1 * v.1 + v.2 * v.2).squareRoot()
        if theta < 1e-300 { return Matrix3([1, 0, 0, 0, 1, 0, 0, 0, 1]) }
        let x = v.0 / theta, y = v.1 / theta, z = v.2 / theta
        let s = sin(theta), c = cos(theta), t = 1 - c
        return Matrix3([c + t * x * x, t * x * y - s * z, t * x * z + s * y,
                        t * x * y + s * z, c + t * y * y, t * y * z - s * x,
                        t * x * z - s * y, t * y * z + s * x, c + t * z * z])
    }

    /// The rotation vector of a rotation matrix (the inverse of `rotationMatrix`), for tests and
    /// for writing .cs files from known orientations.
    public static func rotationVector(_ r: Matrix3) -> (Double, Double, Double) {
        let cosTheta = max(-1, min(1, (r[0, 0] + r[1, 1] + r[2, 2] - 1) / 2))
        let theta = acos(cosTheta)
        if theta < 1e-12 { return (0, 0, 0) }
        if Double.pi - theta < 1e-6 {
            // Near π: the axis from the diagonal of (R + I)/2 = w wᵀ.
            var x = ((r[0, 0] + 1) / 2).squareRoot(), y = ((r[1, 1] + 1) / 2).squareRoot(), z = ((r[2, 2] + 1) / 2).squareRoot()
            if x >= y && x >= z { y = copysign(y, r[0, 1]); z = copysign(z, r[0, 2]) }
            else if y >= z { x = copysign(x, r[0, 1]); z = copysign(z, r[1, 2]) }
            else { x = copysign(x, r[0, 2]); y = copysign(y, r[1, 2]) }
            let n = (x * x + y * y + z * z).squareRoot()
            return (theta * x / n, theta * y / n, theta * z / n)
        }
        let k = theta / (2 * sin(theta))
        return (k * (r[2, 1] - r[1, 2]), k * (r[0, 2] - r[2, 0]), k * (r[1, 0] - r[0, 1]))
    }

    /// RELION's matrix A for Euler angles in degrees (src/euler.cpp Euler_angles2matrix, ZYZ).
    public static func relionMatrix(rot: Double, tilt: Double, psi: Double) -> Matrix3 {
        let a = rot * .pi / 180, b = tilt * .pi / 180, g = psi * .pi / 180
        let ca = cos(a), sa = sin(a), cb = cos(b), sb = sin(b), cg = cos(g), sg = sin(g)
        let cc = cb * ca, cs = cb * sa, sc = sb * ca, ss = sb * sa
        return Matrix3([cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb,
                        -sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb,
                        sc, ss, cb])
    }

    /// RELION's Euler angles (rot, tilt, psi) in degrees of a rotation matrix A, as
    /// Euler_matrix2angles decomposes it (tilt in [0, 180]; at tilt 0 or 180, rot = 0).
    public static func relionAngles(_ A: Matrix3) -> (rot: Double, tilt: Double, psi: Double) {
        let sinTilt = (A[0, 2] * A[0, 2] + A[1, 2] * A[1, 2]).squareRoot()
        var rot: Double, tilt: Double, psi: Double
        if sinTilt > 16 * Double.ulpOfOne {
            psi = atan2(A[1, 2], -A[0, 2])
            rot = atan2(A[2, 1], A[2, 0])
            tilt = atan2(sinTilt, A[2, 2])
        } else {
            rot = 0
            if A[2, 2] > 0 { tilt = 0; psi = atan2(-A[1, 0], A[0, 0]) }
            else { tilt = .pi; psi = atan2(A[1, 0], -A[0, 0]) }
        }
        return (rot * 180 / .pi, tilt * 180 / .pi, psi * 180 / .pi)
    }

    /// RELION's A for a cryoSPARC 3D pose (rotation vector): Rᵀ (see the file header).
    public static func relionMatrix(pose: (Double, Double, Double)) -> Matrix3 {
        rotationMatrix(rotationVector: pose).transposed
    }

    /// RELION's Euler angles for a cryoSPARC 3D pose: `relionAngles(relionMatrix(pose:))` without
    /// allocating (the conversion calls it once per particle).
    public static func relionAngles(pose v: (Double, Double, Double)) -> (rot: Double, tilt: Double, psi: Double) {
        let theta = (v.0 * v.0 + v.1 * v.1 + v.2 * v.2).squareRoot()
        // Elements of A = Rᵀ (aRC = R[C][R]) that the decomposition reads.
        var a02 = 0.0, a12 = 0.0, a20 = 0.0, a21 = 0.0, a22 = 1.0, a00 = 1.0, a10 = 0.0
        if theta >= 1e-300 {
            let x = v.0 / theta, y = v.1 / theta, z = v.2 / theta
            let s = sin(theta), c = cos(theta), t = 1 - c
            a00 = c + t * x * x                 // R00
            a10 = t * x * y - s * z             // R01
            a20 = t * x * z + s * y             // R02
            a21 = t * y * z - s * x             // R12
            a02 = t * x * z - s * y             // R20
            a12 = t * y * z + s * x             // R21
            a22 = c + t * z * z                 // R22
        }
        let sinTilt = (a02 * a02 + a12 * a12).squareRoot()
        var rot: Double, tilt: Double, psi: Double
        if sinTilt > 16 * Double.ulpOfOne {
            psi = atan2(a12, -a02)
            rot = atan2(a21, a20)
            tilt = atan2(sinTilt, a22)
        } else {
            rot = 0
            if a22 > 0 { tilt = 0; psi = atan2(-a10, a00) } else { tilt = .pi; psi = atan2(a10, -a00) }
        }
        return (rot * 180 / .pi, tilt * 180 / .pi, psi * 180 / .pi)
    }

    /// The cryoSPARC 3D pose of RELION Euler angles (the inverse of `relionAngles(pose:)`).
    public static func pose(rot: Double, tilt: Double, psi: Double) -> (Double, Double, Double) {
        rotationVector(relionMatrix(rot: rot, tilt: tilt, psi: psi).transposed)
    }

    /// rlnMagMat00, 01, 10, 11 for cryoSPARC's anisomag (a, b, c, d): (I + [[a, b], [c, d]])⁻ᵀ;
    /// nil if I + anisomag is singular.
    public static func relionMagMatrix(anisomag a: (Double, Double, Double, Double)) -> (Double, Double, Double, Double)? {
        let d00 = 1 + a.0, d01 = a.1, d10 = a.2, d11 = 1 + a.3
        let det = d00 * d11 - d01 * d10
        guard det.isFinite, abs(det) > 1e-9 else { return nil }
        // D⁻¹ = [[d11, −d01], [−d10, d00]] / det; its transpose:
        return (d11 / det, -d10 / det, -d01 / det, d00 / det)
    }

    /// The relativistic electron wavelength in Å (as RELION computes it, obs_model.cpp).
    public static func wavelength(kilovolts kV: Double) -> Double {
        electronWavelength(kilovolts: kV)
    }

    /// rlnBeamTiltX/Y in mrad for cryoSPARC's tilt_A and the Cs (mm) RELION will use: tilt_A =
    /// Cs · tilt (rad), so tilt (mrad) = tilt_A / (Cs · 10⁷ Å) · 10³.
    public static func beamTiltMilliradians(tiltA: Double, csMillimetres: Double) -> Double {
        tiltA / (csMillimetres * 1e4)
    }

    /// The odd Zernike coefficients (RELION order) that add RELION's odd phase for cryoSPARC's
    /// tilt_A and trefoil_A: −2π λ² (|k|² (k · tilt) + |k|³ (tx cos 3φ + ty sin 3φ)).
    /// |k|² kx = (Z(1,3) + 2 Z(1,1)) / 3, |k|³ cos 3φ = Z(3,3), |k|³ sin 3φ = Z(−3,3).
    public static func oddZernike(tiltA: (Double, Double), trefoilA: (Double, Double), wavelength lambda: Double) -> [Double] {
        let s = -2 * Double.pi * lambda * lambda
        var c = [Double](repeating: 0, count: 6)
        c[1] += s * 2 * tiltA.0 / 3; c[4] += s * tiltA.0 / 3   // Z(1,1), Z(1,3): x
        c[0] += s * 2 * tiltA.1 / 3; c[3] += s * tiltA.1 / 3   // Z(−1,1), Z(−1,3): y
        c[5] += s * trefoilA.0                                 // Z(3,3)
        c[2] += s * trefoilA.1                                 // Z(−3,3)
        return c
    }

    /// The odd Zernike coefficients (RELION order) for cryoSPARC's ctf/shift_A (Å), taken as the
    /// first-order term of the same family as tilt_A and trefoil_A (W = λ (k · shift_A), odd phase
    /// −2π (k · shift_A), a translation of the CTF's phase): Z(1,1) = kx, Z(−1,1) = ky. The sign
    /// and the basis are angpix's assumption (see docs/cryosparc.md).
    public static func oddZernike(shiftA: (Double, Double)) -> [Double] {
        var c = [Double](repeating: 0, count: 6)
        c[1] = -2 * Double.pi * shiftA.0
        c[0] = -2 * Double.pi * shiftA.1
        return c
    }

    /// What RELION adds to its odd Zernike coefficients for rlnBeamTiltX/Y (mrad) and Cs (mm)
    /// (TiltHelper::insertTilt), for checking conversions.
    public static func relionBeamTiltZernike(tiltX: Double, tiltY: Double, cs: Double, wavelength lambda: Double) -> [Double] {
        let scale = cs * 20000 * lambda * lambda * Double.pi
        let zx = -scale * tiltX / 3, zy = -scale * tiltY / 3
        var c = [Double](repeating: 0, count: 6)
        c[1] += 2 * zx; c[0] += 2 * zy; c[4] += zx; c[3] += zy
        return c
    }

    /// The even Zernike coefficients (RELION order, 9 of them) that add to γ
    ///   2π λ³ |k|⁴ (a cos 4φ + b sin 4φ + c cos 2φ + d sin 2φ) + π/2 ΔCs λ³ |k|⁴
    /// for cryoSPARC's tetra_A (a, b, c, d) and a Cs difference ΔCs (mm) moved out of
    /// rlnSphericalAberration: pure |k|⁴ terms, so that nothing else of the CTF changes:
    ///   |k|⁴ cos 4φ = Z(4,4); |k|⁴ cos 2φ = (Z(2,4) + 3 Z(2,2)) / 4; 6 c₄₀ |k|⁴ = c₄₀ (Z(0,4) + 3 Z(0,2) + 2 Z(0,0)),
    /// with c₄₀ = π ΔCs λ³ / 12 — the 7th number is then the Z40 that `calibrate zernike` reads.
    public static func evenZernike(tetraA t: (Double, Double, Double, Double), deltaCs: Double, wavelength lambda: Double) -> [Double] {
        let s = 2 * Double.pi * lambda * lambda * lambda
        var c = [Double](repeating: 0, count: 9)
        c[8] += s * t.0                                  // Z(4,4)
        c[4] += s * t.1                                  // Z(−4,4)
        c[7] += s * t.2 / 4; c[3] += s * t.2 * 3 / 4     // Z(2,4), Z(2,2)
        c[5] += s * t.3 / 4; c[1] += s * t.3 * 3 / 4     // Z(−2,4), Z(−2,2)
        let z40 = Double.pi * deltaCs * 1e7 * lambda * lambda * lambda / 12
        c[6] += z40; c[2] += 3 * z40; c[0] += 2 * z40    // Z(0,4), Z(0,2), Z(0,0)
        return c
    }
}
