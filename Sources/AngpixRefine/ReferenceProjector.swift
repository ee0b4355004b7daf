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
public final class ReferenceProjector: @unchecked Sendable {
    /// The reference's box s_ref in voxels.
    public let boxSize: Int
    /// The reference's voxel size p_ref in Å.
    public let pixelSize: Double
    /// The padding factor (2, RELION's default `--pad`).
    public let paddingFactor = 2
    /// The largest |q| kept, in padded-grid units.
    public let radius: Int
    /// The kept values, by rows: the row of (y, z) (y in −R...R, z in −R...R−1) holds, for x from 0
    /// up to its end, the pair (value at (x, y, z), value at (x, y, z + 1)), so that the eight
    /// corners of a trilinear cell are two runs of four values (two cache lines or three, instead
    /// of four or five along x alone). Rows end where x² + y² + z² passes (R + 2)²: a sample
    /// within |q| ≤ R reads nothing farther than R + √3 from the origin, and the ball is about
    /// half the cube, so the pairs cost about what the cube would.
    let storage: LargeBuffer<Complex32>
    /// Offset in `storage` of the row of (y, z), at index (z + R)·(2R + 1) + y + R.
    let rowStart: [Int]

    /// Prepares `map` (a cube). `maximumFrequency` (1/Å), if given, limits what is kept to what the
    /// fits use (plus the interpolation's reach); by default everything up to the map's Nyquist.
    public convenience init(map: MRCMap, maximumFrequency: Double? = nil) throws {
        try self.init(map: map, maximumFrequency: maximumFrequency, workspace: ProjectorWorkspace())
    }

    /// As `init(map:maximumFrequency:)`, with the padded volume and its transform in `workspace`
    /// (the half maps of a reference share one: first touches of fresh memory are slow).
    init(map: MRCMap, maximumFrequency: Double?, workspace: ProjectorWorkspace) throws {
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
        let padded = workspace.padded(P * P * P)
        let h = s / 2
        var sinc = [Double](repeating: 1, count: 3 * s * s + 1)   // by r² (integer)
        for r2 in 1..<sinc.count {
            let x = Double.pi * Double(r2).squareRoot() / Double(P)
            let v = sin(x) / x
            sinc[r2] = v * v
        }
        map.data.withUnsafeBufferPointer { src in
            do {
                let dp = padded.pointer
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
        let spectrum = workspace.spectrum(plan.spectrumCount)
        plan.forward(UnsafeBufferPointer(start: padded.pointer, count: padded.count),
                     UnsafeMutableBufferPointer(start: spectrum.pointer, count: spectrum.count))
        let norm = 1 / Float(s * s)
        let side = 2 * r + 1, pxh = P / 2 + 1
        // Row lengths: x in 0...end with x² + y² + z'² ≤ (R + 2)² for z' = z or z + 1 (at most R).
        let reach2 = (r + 2) * (r + 2)
        func rowEnd(_ y: Int, _ z: Int) -> Int {
            let rest = reach2 - y * y - min(z * z, (z + 1) * (z + 1))
            guard rest >= 0 else { return -1 }
            var x = Int(Double(rest).squareRoot())
            while x * x > rest { x -= 1 }
            while (x + 1) * (x + 1) <= rest { x += 1 }
            return min(r, x)
        }
        var starts = [Int](repeating: 0, count: side * side)
        var total = 0
        for zi in 0..<side { for yi in 0..<side {
            starts[zi * side + yi] = total
            if zi < side - 1 { total += 2 * (rowEnd(yi - r, zi - r) + 1) }
        } }
        let kept = LargeBuffer<Complex32>(count: max(1, total), zeroed: false)
        do {
            do {
                let spb = spectrum.pointer, kpb = kept.pointer
                parallelForEach(side - 1) { zi in
                    let z = zi - r, pz = (z + P) % P, pz1 = (z + 1 + P) % P
                    for yi in 0..<side {
                        let y = yi - r, py = (y + P) % P
                        let end = rowEnd(y, z)
                        if end < 0 { continue }
                        let from0 = spb + (pz * P + py) * pxh, from1 = spb + (pz1 * P + py) * pxh
                        let to = kpb + starts[zi * side + yi]
                        for x in 0...end {
                            to[2 * x] = from0[x] * norm
                            to[2 * x + 1] = from1[x] * norm
                        }
                    }
                }
            }
        }
        storage = kept
        rowStart = starts
    }

    /// Where the trilinear cell of q (padded-grid units) is kept: the offsets of its two runs of
    /// four values in `storage`, the fractions within the cell, and whether q was read at −q
    /// (Hermitian symmetry); nil outside the kept cube.
    @inline(__always)
    func locate(_ rows: UnsafePointer<Int>, _ qx: Double, _ qy: Double, _ qz: Double)
        -> (run0: Int, run1: Int, fx: Float, fy: Float, fz: Float, conj: Bool)? {
        var x = qx, y = qy, z = qz
        var conj = false
        if x < 0 { x = -x; y = -y; z = -z; conj = true }
        let R = radius
        // Within the cube (and for NaN, which fails every comparison) before converting to Int.
        guard x < Double(R), y >= Double(-R), y < Double(R), z >= Double(-R), z < Double(R) else { return nil }
        // ⌊y⌋ and ⌊z⌋ without a call to floor (x ≥ 0 truncates to its floor).
        let yt = Int(y), zt = Int(z)
        let x0 = Int(x), y0 = Double(yt) > y ? yt - 1 : yt, z0 = Double(zt) > z ? zt - 1 : zt
        let fx = Float(x - Double(x0)), fy = Float(y - Double(y0)), fz = Float(z - Double(z0))
        let row = (z0 + R) * (2 * R + 1) + (y0 + R)
        return (rows[row] + 2 * x0, rows[row + 1] + 2 * x0, fx, fy, fz, conj)
    }

    /// The trilinear interpolant and its gradient ∇_q from the cell's two runs (c000, c001, c100,
    /// c101) and (c010, c011, c110, c111).
    @inline(__always)
    static func interpolate(_ b0: UnsafePointer<Complex32>, _ b1: UnsafePointer<Complex32>,
                            _ fx: Float, _ fy: Float, _ fz: Float, _ conj: Bool, gradient: Bool)
        -> (f: Complex32, gx: Complex32, gy: Complex32, gz: Complex32) {
        let c000 = b0[0], c001 = b0[1], c100 = b0[2], c101 = b0[3]
        let c010 = b1[0], c011 = b1[1], c110 = b1[2], c111 = b1[3]
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

    /// The trilinear interpolant at q (padded-grid units) and its gradient ∇_q.
    @inline(__always)
    func sample(_ v: UnsafePointer<Complex32>, _ rows: UnsafePointer<Int>, _ qx: Double, _ qy: Double, _ qz: Double,
                gradient: Bool)
        -> (f: Complex32, gx: Complex32, gy: Complex32, gz: Complex32) {
        guard let c = locate(rows, qx, qy, qz) else { return (.zero, .zero, .zero, .zero) }
        return Self.interpolate(v + c.run0, v + c.run1, c.fx, c.fy, c.fz, c.conj, gradient: gradient)
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
        rowStart.withUnsafeBufferPointer { rsb in
        onlyValues.withUnsafeBufferPointer { ob in
        out.withUnsafeMutableBufferPointer { outb in
        gxOut.withUnsafeMutableBufferPointer { gxb in
        gyOut.withUnsafeMutableBufferPointer { gyb in
        let v = UnsafePointer(storage.pointer), rs = rsb.baseAddress!, restricted = !ob.isEmpty
        for row in 0..<s {
            let ky = Double(fourierFrequency(row, s)) / extent
            let ph = -2 * Double.pi * ky * ty
            let rampY = Complex32(Float(cos(ph)), Float(sin(ph)))
            for i in 0..<hxOut {
                if restricted, ob[row * hxOut + i] == 0 { continue }
                let kx = Double(i) / extent
                let qx = g[0] * kx + g[1] * ky, qy = g[2] * kx + g[3] * ky, qz = g[4] * kx + g[5] * ky
                if qx * qx + qy * qy + qz * qz > limit2 { continue }
                let r = sample(v, rs, qx, qy, qz, gradient: gradient)
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

    /// The prediction and its gradient at listed pixels only, written compactly (the magnification
    /// pass): pixel j is column `columns[j]` and row `rows[j]` of the half-complex grid of box
    /// `boxSize` at `pixelSize` Å. The arithmetic is `project`'s, so the values are the same as
    /// `project(…, gradient: true)` gives at those pixels. `rampY` is scratch for s values.
    func projectPixels(pose: ParticlePose, boxSize s: Int, pixelSize p: Double, magMatrix: Matrix2x2?,
                       columns: UnsafePointer<Int32>, rows: UnsafePointer<Int32>, count: Int,
                       rampX: UnsafeMutablePointer<Complex32>, rampY: UnsafeMutablePointer<Complex32>,
                       scratch: ProjectionScratch, values: UnsafeMutablePointer<Complex32>, gradientX: UnsafeMutablePointer<Complex32>,
                       gradientY: UnsafeMutablePointer<Complex32>) {
        let hxOut = s / 2 + 1
        let a = relionEulerMatrix(rotDegrees: pose.rotDegrees, tiltDegrees: pose.tiltDegrees, psiDegrees: pose.psiDegrees)
        let m = magMatrix ?? .identity
        let c = Double(paddingFactor * boxSize) * pixelSize
        var g = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        do {
            let a00 = a[0], a10 = a[3], a01 = a[1], a11 = a[4], a02 = a[2], a12 = a[5]
            g.0 = c * (a00 * m.m00 + a10 * m.m10); g.1 = c * (a00 * m.m01 + a10 * m.m11)
            g.2 = c * (a01 * m.m00 + a11 * m.m10); g.3 = c * (a01 * m.m01 + a11 * m.m11)
            g.4 = c * (a02 * m.m00 + a12 * m.m10); g.5 = c * (a02 * m.m01 + a12 * m.m11)
        }
        let extent = Double(s) * p
        let tx = Double(s / 2) * p - pose.originXAngstrom, ty = Double(s / 2) * p - pose.originYAngstrom
        for i in 0..<hxOut {
            let ph = -2 * Double.pi * Double(i) / extent * tx
            rampX[i] = Complex32(Float(cos(ph)), Float(sin(ph)))
        }
        // Only the rows that hold listed pixels need their ramp.
        var lastRow = -1
        for j in 0..<count where Int(rows[j]) != lastRow {
            lastRow = Int(rows[j])
            let ky = Double(fourierFrequency(lastRow, s)) / extent
            let ph = -2 * Double.pi * ky * ty
            rampY[lastRow] = Complex32(Float(cos(ph)), Float(sin(ph)))
        }
        let limit2 = Double(radius) * Double(radius)
        let g0 = Float(g.0), g1 = Float(g.1), g2 = Float(g.2), g3 = Float(g.3), g4 = Float(g.4), g5 = Float(g.5)
        let v = UnsafePointer(storage.pointer)
        // Three sweeps, so that the random reads of the reference overlap: where each pixel's cell
        // is (no memory traffic beyond the row table), then only the reads of the cells into
        // `scratch` (a short loop the processor runs many iterations of at once), then the
        // interpolation from there. The arithmetic is `sample`'s.
        let run0 = scratch.run0, run1 = scratch.run1, fractions = scratch.fractions, cells = scratch.cells
        rowStart.withUnsafeBufferPointer { rsb in
            let rs = rsb.baseAddress!
            for j in 0..<count {
                let i = Int(columns[j]), row = Int(rows[j])
                let ky = Double(fourierFrequency(row, s)) / extent
                let kx = Double(i) / extent
                let qx = g.0 * kx + g.1 * ky, qy = g.2 * kx + g.3 * ky, qz = g.4 * kx + g.5 * ky
                run0[j] = -1
                if qx * qx + qy * qy + qz * qz > limit2 { run1[j] = -1; continue }
                guard let c = locate(rs, qx, qy, qz) else { continue }
                run0[j] = c.run0; run1[j] = c.run1
                fractions[j] = SIMD4<Float>(c.fx, c.fy, c.fz, c.conj ? 1 : 0)
            }
        }
        let raw = UnsafeRawPointer(v)
        let cellsRaw = UnsafeMutableRawPointer(cells)
        for j in 0..<count where run0[j] >= 0 {
            let a = raw + run0[j] * 8, b = raw + run1[j] * 8, out = cellsRaw + j * 64
            out.storeBytes(of: a.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            (out + 16).storeBytes(of: (a + 16).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            (out + 32).storeBytes(of: b.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
            (out + 48).storeBytes(of: (b + 16).loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
        }
        for j in 0..<count {
            let i = Int(columns[j]), row = Int(rows[j])
            if run0[j] < 0 {
                values[j] = .zero; gradientX[j] = .zero; gradientY[j] = .zero
                if run1[j] < 0 { continue }   // beyond the radius: zero, as `project` leaves it
                let phase = rampX[i] * rampY[row]
                values[j] = Complex32.zero * phase
                gradientX[j] = (Complex32.zero * g0 + Complex32.zero * g2 + Complex32.zero * g4) * phase
                gradientY[j] = (Complex32.zero * g1 + Complex32.zero * g3 + Complex32.zero * g5) * phase
                continue
            }
            let fr = fractions[j]
            let r = Self.interpolate(cells + j * 8, cells + j * 8 + 4, fr[0], fr[1], fr[2], fr[3] != 0, gradient: true)
            let phase = rampX[i] * rampY[row]
            values[j] = r.f * phase
            let dkx = r.gx * g0 + r.gy * g2 + r.gz * g4
            let dky = r.gx * g1 + r.gy * g3 + r.gz * g5
            gradientX[j] = dkx * phase
            gradientY[j] = dky * phase
        }
    }
}

/// Per-thread scratch of `ReferenceProjector.projectPixels` for up to `capacity` pixels.
final class ProjectionScratch {
    let run0: UnsafeMutablePointer<Int>, run1: UnsafeMutablePointer<Int>
    let fractions: UnsafeMutablePointer<SIMD4<Float>>
    /// Eight values per pixel: the cell's two runs.
    let cells: UnsafeMutablePointer<Complex32>

    init(capacity: Int) {
        let n = max(1, capacity)
        run0 = .allocate(capacity: n); run1 = .allocate(capacity: n)
        fractions = .allocate(capacity: n)
        cells = .allocate(capacity: 8 * n)
    }

    deinit { run0.deallocate(); run1.deallocate(); fractions.deallocate(); cells.deallocate() }
}

/// The padded volume and its transform, reused from one half map to the next.
final class ProjectorWorkspace {
    private var paddedBuffer: LargeBuffer<Float>?
    private var spectrumBuffer: LargeBuffer<Complex32>?

    /// `count` zeros.
    func padded(_ count: Int) -> LargeBuffer<Float> {
        if let b = paddedBuffer, b.count == count {
            memset(b.pointer, 0, count * MemoryLayout<Float>.stride)
            return b
        }
        let b = LargeBuffer<Float>(count: count)
        paddedBuffer = b
        return b
    }

    /// `count` values, uninitialised.
    func spectrum(_ count: Int) -> LargeBuffer<Complex32> {
        if let b = spectrumBuffer, b.count == count { return b }
        let b = LargeBuffer<Complex32>(count: count, zeroed: false)
        spectrumBuffer = b
        return b
    }
}

/// A large array of its own, aligned for the cache (huge pages were tried: the projection did not
/// gain and the first touches of the buffers doubled the preparation's time).
final class LargeBuffer<Element>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Element>
    let count: Int

    /// `count` elements, zero bytes when `zeroed` (else uninitialised: write before reading).
    init(count: Int, zeroed: Bool = true) {
        self.count = count
        let bytes = max(1, count * MemoryLayout<Element>.stride)
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("out of memory: \(bytes) bytes for the reference")
        }
        pointer = raw.bindMemory(to: Element.self, capacity: count)
        if zeroed { memset(pointer, 0, bytes) }
    }

    deinit { free(pointer) }
}
