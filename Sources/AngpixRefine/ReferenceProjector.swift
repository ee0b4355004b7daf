// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Projections of a reference half map in Fourier space, as RELION 3.1 predicts a particle
// (src/projector.cpp Projector::computeFourierTransformMap / project / projectGradient,
// src/jaz/single_particle/obs_model.cpp predictObservation):
//
//   - the map (a cube of s_ref voxels at p_ref Å) is divided by the Fourier transform of the
//     trilinear interpolator, sinc²(r / (2·s_ref)) with r the distance in voxels from the map's
//     centre (RELION's radial gridding correction), zero-padded to P = 2·s_ref voxels with its
//     centre at the origin, and transformed (3D, unnormalised, divided by s_ref² as RELION's
//     normfft does, so a projection on the reference's own grid equals FFT(projection) / s²);
//   - only the part within `radius` padded-grid units of the origin is kept (all of it up to the
//     reference's Nyquist by default, less when the fits need less): memory is the reference;
//   - a particle of box s at p Å is predicted at its frequency k (1/Å) from the slice value at
//       q = c · Aᵀ · (M k, 0),   c = 2 · s_ref · p_ref (padded-grid units per 1/Å),
//     with A RELION's Euler matrix of (rot, tilt, psi) and M the group's magnification matrix
//     (RELION's reference-frame scaling s = box·angpix / (box_ref·angpix_ref) is the factor
//     s·p / (s_ref·p_ref) hidden in c when k is counted in pixels); q with a negative x is read
//     as the complex conjugate at −q (Hermitian symmetry); values are interpolated trilinearly;
//   - the prediction is shifted so that the object's centre is at pixel s/2 − origin/p, with
//     origin = (rlnOriginXAngst, rlnOriginYAngst): multiplied by exp(−2πi k·t),
//     t = (s/2·p − originX, s/2·p − originY) Å (obs_model's s_out/2 − xoff), because the particle
//     images are transformed with their phase origin at pixel 0;
//   - the gradient ∂f/∂k (1/Å) is that of the trilinear interpolant (exact, piecewise), through
//     q(k): ∂f/∂k = Mᵀ · c · (A ∇_q f)_{x,y}, and it carries the same phase ramp (the origin was
//     refined on the distorted images, so it is not differentiated, as in RELION's
//     predictComplexGradient).

import Foundation
import AngpixCore
import AngpixFourier
import AngpixMRC
import AngpixOptics

/// RELION's rotation matrix of the Euler angles (rot, tilt, psi) in degrees, ZYZ convention
/// (src/euler.cpp Euler_angles2matrix), row-major 3×3. A map point X is seen at A·X in the image
/// frame (x, y and the viewing direction z), so the Fourier slice is at Aᵀ·(kx, ky, 0).
public func relionEulerMatrix(rotDegrees: Double, tiltDegrees: Double, psiDegrees: Double) -> [Double] {
    let d = Double.pi / 180
    let ca = cos(rotDegrees * d), sa = sin(rotDegrees * d)
    let cb = cos(tiltDegrees * d), sb = sin(tiltDegrees * d)
    let cg = cos(psiDegrees * d), sg = sin(psiDegrees * d)
    let cc = cb * ca, cs = cb * sa, sc = sb * ca, ss = sb * sa
    return [cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb,
            -sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb,
            sc, ss, cb]
}

/// A particle's pose in RELION's conventions: Euler angles in degrees and the origin in Å.
public struct ParticlePose: Sendable, Equatable {
    /// rlnAngleRot, rlnAngleTilt, rlnAnglePsi in degrees.
    public var rotDegrees: Double, tiltDegrees: Double, psiDegrees: Double
    /// rlnOriginXAngst and rlnOriginYAngst in Å.
    public var originXAngstrom: Double, originYAngstrom: Double

    public init(rotDegrees: Double, tiltDegrees: Double, psiDegrees: Double,
                originXAngstrom: Double = 0, originYAngstrom: Double = 0) {
        self.rotDegrees = rotDegrees; self.tiltDegrees = tiltDegrees; self.psiDegrees = psiDegrees
        self.originXAngstrom = originXAngstrom; self.originYAngstrom = originYAngstrom
    }
}

/// The prediction of one particle (half-complex, s × (s/2+1)), with its gradient if asked for.
public struct Projection: Sendable {
    /// The posed, shifted projection at M·k, without CTF (forward FFT / s² normalisation).
    public var values: [Complex32]
    /// ∂values/∂kx and ∂values/∂ky (k in 1/Å of the particle grid), or nil.
    public var gradientX: [Complex32]?
    public var gradientY: [Complex32]?
}

/// A reference half map ready for Fourier-slice projection (2× padded, gridding-corrected, trilinear).
public final class ReferenceProjector: Sendable {
    /// The reference's box s_ref in voxels.
    public let boxSize: Int
    /// The reference's voxel size p_ref in Å.
    public let pixelSize: Double
    /// The padding factor (2, RELION's default `--pad`).
    public let paddingFactor = 2
    /// The largest |q| kept, in padded-grid units.
    public let radius: Int
    /// Values for x in 0...radius and y, z in −radius...radius: index ((z+R)·(2R+1) + y+R)·(R+1) + x.
    let values: [Complex32]

    /// Prepares `map` (a cube). `maximumFrequency` (1/Å), if given, limits what is kept to what the
    /// fits use (plus the interpolation's reach); by default everything up to the map's Nyquist.
    public init(map: MRCMap, maximumFrequency: Double? = nil) throws {
        guard map.nx == map.ny, map.ny == map.nz, map.nx >= 4 else {
            throw RefineError.badReference(path: "", reason: "the map is \(map.nx) × \(map.ny) × \(map.nz) voxels, not a cube")
        }
        guard map.pixelSize > 0, map.pixelSize.isFinite else {
            throw RefineError.badReference(path: "", reason: "the map's voxel size is \(map.pixelSize) Å")
        }
        let s = map.nx
        boxSize = s
        pixelSize = map.pixelSize
        let P = paddingFactor * s
        var r = P / 2 - 1
        if let kmax = maximumFrequency, kmax > 0, kmax.isFinite {
            r = min(r, Int((kmax * Double(P) * map.pixelSize).rounded(.up)) + 2)
        }
        radius = r
        // Gridding-corrected map, zero-padded, with its centre (voxel s/2) at the origin.
        var padded = [Float](repeating: 0, count: P * P * P)
        let h = s / 2
        var sinc = [Double](repeating: 1, count: 3 * s * s + 1)   // by r² (integer)
        for r2 in 1..<sinc.count {
            let x = Double.pi * Double(r2).squareRoot() / Double(P)
            let v = sin(x) / x
            sinc[r2] = v * v
        }
        map.data.withUnsafeBufferPointer { src in
            padded.withUnsafeMutableBufferPointer { dst in
                let dp = dst.baseAddress!
                parallelForEach(s) { z in
                    let dz = z - h, pz = (dz + P) % P
                    for y in 0..<s {
                        let dy = y - h, py = (dy + P) % P
                        for x in 0..<s {
                            let dx = x - h, px = (dx + P) % P
                            let v = Double(src[(z * s + y) * s + x]) / sinc[dx * dx + dy * dy + dz * dz]
                            dp[(pz * P + py) * P + px] = Float(v)
                        }
                    }
                }
            }
        }
        let plan = try RealFFTPlan(shape: [P, P, P])
        var spectrum = plan.forward(padded)
        padded = []
        let norm = 1 / Float(s * s)
        let side = 2 * r + 1, hx = r + 1, pxh = P / 2 + 1
        var kept = [Complex32](repeating: .zero, count: side * side * hx)
        spectrum.withUnsafeMutableBufferPointer { sp in
            kept.withUnsafeMutableBufferPointer { kp in
                let spb = sp.baseAddress!, kpb = kp.baseAddress!
                parallelForEach(side) { zi in
                    let z = zi - r, pz = (z + P) % P
                    for yi in 0..<side {
                        let y = yi - r, py = (y + P) % P
                        let from = spb + (pz * P + py) * pxh, to = kpb + (zi * side + yi) * hx
                        for x in 0...r { to[x] = from[x] * norm }
                    }
                }
            }
        }
        spectrum = []
        values = kept
    }

    /// The trilinear interpolant at q (padded-grid units) and its gradient ∇_q.
    @inline(__always)
    func sample(_ v: UnsafePointer<Complex32>, _ qx: Double, _ qy: Double, _ qz: Double, gradient: Bool)
        -> (f: Complex32, gx: Complex32, gy: Complex32, gz: Complex32) {
        var x = qx, y = qy, z = qz
        var conj = false
        if x < 0 { x = -x; y = -y; z = -z; conj = true }
        let x0 = Int(x), y0 = Int(y.rounded(.down)), z0 = Int(z.rounded(.down))
        let R = radius
        guard x0 + 1 <= R, y0 >= -R, y0 + 1 <= R, z0 >= -R, z0 + 1 <= R else { return (.zero, .zero, .zero, .zero) }
        let fx = Float(x - Double(x0)), fy = Float(y - Double(y0)), fz = Float(z - Double(z0))
        let side = 2 * R + 1, hx = R + 1
        let b = ((z0 + R) * side + (y0 + R)) * hx + x0
        let dy = hx, dz = side * hx
        do {
            let c000 = v[b], c100 = v[b + 1], c010 = v[b + dy], c110 = v[b + dy + 1]
            let c001 = v[b + dz], c101 = v[b + dz + 1], c011 = v[b + dz + dy], c111 = v[b + dz + dy + 1]
            let c00 = c000 + (c100 - c000) * fx, c10 = c010 + (c110 - c010) * fx
            let c01 = c001 + (c101 - c001) * fx, c11 = c011 + (c111 - c011) * fx
            let c0 = c00 + (c10 - c00) * fy, c1 = c01 + (c11 - c01) * fy
            var f = c0 + (c1 - c0) * fz
            guard gradient else {
                if conj { f = f.conjugate }
                return (f, .zero, .zero, .zero)
            }
            let ex0 = (c100 - c000) + ((c110 - c010) - (c100 - c000)) * fy
            let ex1 = (c101 - c001) + ((c111 - c011) - (c101 - c001)) * fy
            var gx = ex0 + (ex1 - ex0) * fz
            var gy = (c10 - c00) + ((c11 - c01) - (c10 - c00)) * fz
            var gz = c1 - c0
            if conj {
                // f(q) = conj F(−q), so ∇f(q) = −conj ∇F(−q).
                f = f.conjugate
                gx = -gx.conjugate; gy = -gy.conjugate; gz = -gz.conjugate
            }
            return (f, gx, gy, gz)
        }
    }

    /// The prediction of a particle of box `boxSize` at `pixelSize` Å in `pose`, seen through the
    /// magnification matrix `magMatrix` (nil = identity), with ∂/∂k when `gradient` is set.
    /// With `only`, values (and gradients) are computed only where `only` is non-zero (the fit's
    /// weights) and left at zero elsewhere.
    public func project(pose: ParticlePose, boxSize s: Int, pixelSize p: Double, magMatrix: Matrix2x2? = nil,
                        gradient: Bool = false, only: FrequencyWeights? = nil) -> Projection {
        let hxOut = s / 2 + 1, n = s * hxOut
        precondition(only == nil || only!.values.count == n, "project: weights of another box")
        let a = relionEulerMatrix(rotDegrees: pose.rotDegrees, tiltDegrees: pose.tiltDegrees, psiDegrees: pose.psiDegrees)
        let m = magMatrix ?? .identity
        let c = Double(paddingFactor * boxSize) * pixelSize
        // q = c·Aᵀ·(M k, 0): columns of the combined 3×2 matrix G = c·Aᵀ[:, 0..1]·M.
        // Aᵀ[j][a] = A[a][j].
        var g = [Double](repeating: 0, count: 6)   // g[j*2 + b]
        for j in 0..<3 {
            let a0 = a[0 * 3 + j], a1 = a[1 * 3 + j]
            g[j * 2 + 0] = c * (a0 * m.m00 + a1 * m.m10)
            g[j * 2 + 1] = c * (a0 * m.m01 + a1 * m.m11)
        }
        let extent = Double(s) * p
        let tx = Double(s / 2) * p - pose.originXAngstrom, ty = Double(s / 2) * p - pose.originYAngstrom
        // Separable phase ramp exp(−2πi (kx tx + ky ty)).
        var rampX = [Complex32](repeating: .zero, count: hxOut)
        for i in 0..<hxOut {
            let ph = -2 * Double.pi * Double(i) / extent * tx
            rampX[i] = Complex32(Float(cos(ph)), Float(sin(ph)))
        }
        let onlyValues = only?.values ?? []
        var out = [Complex32](repeating: .zero, count: n)
        var gxOut = gradient ? [Complex32](repeating: .zero, count: n) : []
        var gyOut = gradient ? [Complex32](repeating: .zero, count: n) : []
        // ∂f/∂k_b = Σ_j g[j][b] ∂f/∂q_j.
        let limit2 = Double(radius) * Double(radius)
        let g0 = Float(g[0]), g1 = Float(g[1]), g2 = Float(g[2]), g3 = Float(g[3]), g4 = Float(g[4]), g5 = Float(g[5])
        values.withUnsafeBufferPointer { vb in
        onlyValues.withUnsafeBufferPointer { ob in
        out.withUnsafeMutableBufferPointer { outb in
        gxOut.withUnsafeMutableBufferPointer { gxb in
        gyOut.withUnsafeMutableBufferPointer { gyb in
        let v = vb.baseAddress!, restricted = !ob.isEmpty
        for row in 0..<s {
            let ky = Double(fourierFrequency(row, s)) / extent
            let ph = -2 * Double.pi * ky * ty
            let rampY = Complex32(Float(cos(ph)), Float(sin(ph)))
            for i in 0..<hxOut {
                if restricted, ob[row * hxOut + i] == 0 { continue }
                let kx = Double(i) / extent
                let qx = g[0] * kx + g[1] * ky, qy = g[2] * kx + g[3] * ky, qz = g[4] * kx + g[5] * ky
                if qx * qx + qy * qy + qz * qz > limit2 { continue }
                let r = sample(v, qx, qy, qz, gradient: gradient)
                let phase = rampX[i] * rampY
                let idx = row * hxOut + i
                outb[idx] = r.f * phase
                if gradient {
                    let dkx = r.gx * g0 + r.gy * g2 + r.gz * g4
                    let dky = r.gx * g1 + r.gy * g3 + r.gz * g5
                    gxb[idx] = dkx * phase
                    gyb[idx] = dky * phase
                }
            }
        }
        } } } } }
        return Projection(values: out, gradientX: gradient ? gxOut : nil, gradientY: gradient ? gyOut : nil)
    }
}
