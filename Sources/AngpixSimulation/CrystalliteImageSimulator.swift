// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Simulated micrographs of a polycrystalline diffraction standard, for testing `calibrate rings`
// against a known truth. It shares nothing with the estimator: it works in real space
// with atoms, and only uses the Fourier module for the CTF and the band limit.
//
// The model:
//   - crystallites: spheres of radius in `crystalliteRadius` (Å) cut from the real lattice
//     (`lattice`): fcc gold (a = 4.0782 Å, four atoms per cubic cell at (0,0,0), (½,½,0),
//     (½,0,½), (0,½,½)) or the oxygens of hexagonal ice Ih (a = 4.497, c = 7.322 Å, four per cell
//     at the 4f sites (⅓,⅔,z), (⅔,⅓,z+½), (⅔,⅓,−z), (⅓,⅔,½−z) with z = 0.0625; hydrogens left
//     out) or of cubic ice Ic (a diamond lattice: fcc plus the same shifted by (¼,¼,¼) a), each
//     in a uniformly random orientation (a random unit quaternion); or graphene flakes
//     (discs of the 2D hexagonal lattice, a = 2.46 Å, atoms at 0 and (a₁ + a₂)/3) lying flat in
//     the specimen plane, each turned by a uniformly random angle about the beam; at a uniformly
//     random position; atoms are isotropic Gaussians of standard deviation `atomSigma` (Å),
//     projected along z (a projection of a Gaussian is a Gaussian);
//   - the detector: a specimen offset r (Å) lands at image pixel offset u = D r / t, with D the
//     known distortion (real space; identity = none) and t the true pixel size;
//   - rendering on a grid `oversampling` times finer than the output (a super-resolution
//     detector), Fourier-cropped to the output size (as MotionCor2's -FtBin 2 does), so nothing
//     beyond the output's Nyquist frequency folds back onto the rings;
//   - an amorphous carbon film: white Gaussian noise in Fourier space under the same envelope;
//   - the CTF (AngpixOptics.CTF: a random defocus per image in `defocusRange`, a little random
//     astigmatism, 300 kV, B-factor envelope) evaluated at the specimen's true frequency
//     q = Dᵀ ν / t for the image frequency ν (cycles per pixel): the objective lens acts before
//     the projector lenses that distort;
//   - scaling to a contrast (standard deviation relative to the mean) and counting noise
//     (Poisson, by its normal approximation above 30 counts) at `dose` e⁻/Å².

import Foundation
import AngpixCore
import AngpixFourier
import AngpixOptics

/// The crystal of a simulated standard (see the file header for the atoms of each).
public enum CrystalLattice: Sendable, Equatable {
    /// Face-centred cubic, the simulator's `latticeConstant` (gold by default).
    case fcc
    /// Flat flakes of graphene's 2D hexagonal lattice (a = 2.46 Å: `.graphene(a: 2.46)`).
    case graphene(a: Double)
    /// The oxygens of hexagonal ice Ih (a = 4.497, c = 7.322 Å: `.iceIh(a: 4.497, c: 7.322)`).
    case iceIh(a: Double, c: Double)
    /// The oxygens of cubic ice Ic: a diamond lattice (fcc with a second atom at (¼, ¼, ¼) a),
    /// a ≈ 6.36 Å, whose (111) spacing a/√3 is the 3.66–3.67 Å ice ring.
    case iceIc(a: Double)
}

/// Settings of a simulated image of a polycrystalline standard.
public struct CrystalliteImageSimulator: Sendable {
    /// Output image size N (N × N pixels).
    public var size: Int
    /// The true pixel size t (Å).
    public var truePixelSize: Double
    /// The detector's distortion D (u = D r / t); identity for none.
    public var distortion: Matrix2x2 = .identity
    /// The super-resolution factor of the rendering grid.
    public var oversampling: Int = 2
    /// The fcc lattice constant (Å), used when `lattice` is `.fcc`.
    public var latticeConstant: Double = 4.0782
    /// The crystal: fcc (gold, the default), hexagonal ice Ih, or flat graphene flakes.
    public var lattice: CrystalLattice = .fcc
    /// The atoms' Gaussian standard deviation (Å).
    public var atomSigma: Double = 0.25
    /// Crystallite radii (Å).
    public var crystalliteRadius: ClosedRange<Double> = 30...50
    /// Crystallites per image; default: enough to cover about half of the image once.
    public var crystalliteCount: Int?
    /// Defocus range (Å, underfocus positive).
    public var defocusRange: ClosedRange<Double> = 5000...20000
    public var voltage: Double = 300
    public var sphericalAberration: Double = 2.7
    public var amplitudeContrast: Double = 0.1
    /// The CTF's B-factor envelope (Å²).
    public var bFactor: Double = 5
    /// The largest astigmatism (ΔfU − ΔfV, Å); each image draws one in [0, this).
    public var maxAstigmatism: Double = 300
    /// The carbon film's noise power relative to the crystallites' mean power.
    public var amorphousLevel: Double = 0.2
    /// The image's standard deviation relative to its mean before counting noise.
    public var contrast: Double = 0.3
    /// Electrons per Å² (the whole exposure).
    public var dose: Double = 200

    public init(size: Int, truePixelSize: Double, distortion: Matrix2x2 = .identity) {
        self.size = size; self.truePixelSize = truePixelSize; self.distortion = distortion
    }

    /// The atoms (Å) of `lattice` within `radius` of the origin, nearest first.
    func latticePoints(radius: Double) -> [SIMD3<Double>] {
        switch lattice {
        case .fcc: return CrystalliteImageSimulator.fccPoints(a: latticeConstant, radius: radius)
        case .graphene(let a): return CrystalliteImageSimulator.graphenePoints(a: a, radius: radius)
        case .iceIh(let a, let c): return CrystalliteImageSimulator.icePoints(a: a, c: c, radius: radius)
        case .iceIc(let a):
            let shift = SIMD3<Double>(a / 4, a / 4, a / 4)
            let pts = CrystalliteImageSimulator.fccPoints(a: a, radius: radius + a) + CrystalliteImageSimulator.fccPoints(a: a, radius: radius + a).map { $0 + shift }
            return pts.filter { ($0 * $0).sum() <= radius * radius }.sorted { ($0 * $0).sum() < ($1 * $1).sum() }
        }
    }

    /// Graphene's atoms (z = 0) within `radius`: a₁ = a (1, 0), a₂ = a (½, √3/2), basis 0 and (a₁ + a₂)/3.
    static func graphenePoints(a: Double, radius: Double) -> [SIMD3<Double>] {
        let n = Int((radius / a).rounded(.up)) * 2 + 2
        let a1 = SIMD3(a, 0, 0), a2 = SIMD3(a / 2, a * 3.0.squareRoot() / 2, 0)
        let basis = [SIMD3<Double>(0, 0, 0), (a1 + a2) / 3]
        var pts: [SIMD3<Double>] = []
        for i in -n...n { for j in -n...n { for b in basis {
            let p = a1 * Double(i) + a2 * Double(j) + b
            if (p * p).sum() <= radius * radius { pts.append(p) }
        } } }
        return pts.sorted { ($0 * $0).sum() < ($1 * $1).sum() }
    }

    /// Ice Ih's oxygens within `radius` (hexagonal cell a, c; the 4f sites with z = 0.0625).
    static func icePoints(a: Double, c: Double, radius: Double) -> [SIMD3<Double>] {
        let n = Int((radius / a).rounded(.up)) * 2 + 2, nz = Int((radius / c).rounded(.up)) + 1
        let a1 = SIMD3(a, 0, 0), a2 = SIMD3(-a / 2, a * 3.0.squareRoot() / 2, 0), a3 = SIMD3(0, 0, c)
        let z = 0.0625
        let sites: [(Double, Double, Double)] = [(1.0 / 3, 2.0 / 3, z), (2.0 / 3, 1.0 / 3, z + 0.5), (2.0 / 3, 1.0 / 3, -z), (1.0 / 3, 2.0 / 3, 0.5 - z)]
        var pts: [SIMD3<Double>] = []
        for i in -n...n { for j in -n...n { for k in -nz...nz { for s in sites {
            let p = a1 * (Double(i) + s.0) + a2 * (Double(j) + s.1) + a3 * (Double(k) + s.2)
            if (p * p).sum() <= radius * radius { pts.append(p) }
        } } } }
        return pts.sorted { ($0 * $0).sum() < ($1 * $1).sum() }
    }

    /// The fcc lattice points (Å) within `radius` of the origin, nearest first.
    static func fccPoints(a: Double, radius: Double) -> [SIMD3<Double>] {
        let n = Int((radius / a).rounded(.up)) + 1
        let basis: [SIMD3<Double>] = [SIMD3(0, 0, 0), SIMD3(0.5, 0.5, 0), SIMD3(0.5, 0, 0.5), SIMD3(0, 0.5, 0.5)]
        var pts: [SIMD3<Double>] = []
        for i in -n...n { for j in -n...n { for k in -n...n {
            for b in basis {
                let p = (SIMD3(Double(i), Double(j), Double(k)) + b) * a
                if (p * p).sum() <= radius * radius { pts.append(p) }
            }
        } } }
        return pts.sorted { ($0 * $0).sum() < ($1 * $1).sum() }
    }

    struct Crystallite {
        var cx: Double, cy: Double   // centre, output pixels
        var count: Int               // atoms: the first `count` lattice points
        var radiusPx: Double
        var r0: SIMD3<Double>, r1: SIMD3<Double>   // the first two rows of the rotation
    }

    /// Simulates one image (N·N Floats, x fastest) with random numbers from `seed`.
    public func simulate(seed: UInt64) throws -> [Float] {
        var rng = SplitMix64(seed: seed)
        let n = size, f = max(1, oversampling), ns = n * f
        let t = truePixelSize
        let det = abs(distortion.determinant)
        // Crystallites.
        let meanRadius = (crystalliteRadius.lowerBound + crystalliteRadius.upperBound) / 2
        let imageArea = Double(n * n) * t * t / max(det, 1e-9)
        let count = crystalliteCount ?? max(1, Int(0.5 * imageArea / (Double.pi * meanRadius * meanRadius)))
        let lattice = latticePoints(radius: crystalliteRadius.upperBound)
        let flat: Bool
        if case .graphene = self.lattice { flat = true } else { flat = false }
        var crystallites: [Crystallite] = []
        for _ in 0..<count {
            let radius = rng.uniform(crystalliteRadius.lowerBound, crystalliteRadius.upperBound)
            var atoms = 0
            // The lattice points are sorted by distance: find how many lie within `radius`.
            var lo = 0, hi = lattice.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if (lattice[mid] * lattice[mid]).sum() <= radius * radius { lo = mid + 1 } else { hi = mid }
            }
            atoms = lo
            let (a, b) = rng.normalPair(), (c, d) = rng.normalPair()
            let r0: SIMD3<Double>, r1: SIMD3<Double>
            if flat {
                // A flake lying flat: a rotation about the beam only.
                let phi = atan2(b, a)
                r0 = SIMD3(cos(phi), -sin(phi), 0); r1 = SIMD3(sin(phi), cos(phi), 0)
            } else {
                let norm = (a * a + b * b + c * c + d * d).squareRoot()
                let (w, x, y, z) = (a / norm, b / norm, c / norm, d / norm)
                r0 = SIMD3(1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w))
                r1 = SIMD3(2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w))
            }
            let rpx = radius * 1.02 / t
            crystallites.append(Crystallite(cx: rng.uniform(-rpx, Double(n) + rpx), cy: rng.uniform(-rpx, Double(n) + rpx),
                                            count: atoms, radiusPx: rpx, r0: r0, r1: r1))
        }
        // Rendering on the fine grid, in bands of rows (one per task).
        let sigmaPx = atomSigma * det.squareRoot() / t * Double(f)
        let hw = max(1, Int((3.5 * sigmaPx).rounded(.up)))
        var grid = [Float](repeating: 0, count: ns * ns)
        let bands = splitRange(ns, into: max(1, Parallelism.jobs * 4))
        let dm = distortion
        let scale = Double(f) / t
        grid.withUnsafeMutableBufferPointer { g in
            nonisolated(unsafe) let out = g.baseAddress!
            parallelForEach(bands.count) { bi in
                let band = bands[bi]
                var wx = [Double](repeating: 0, count: 2 * hw + 1), wy = wx
                let inv2s2 = 1 / (2 * sigmaPx * sigmaPx)
                for c in crystallites {
                    let cyf = c.cy * Double(f), reach = (c.radiusPx * Double(f)) * 1.02 + Double(hw) + 1
                    if cyf + reach < Double(band.lowerBound) || cyf - reach > Double(band.upperBound) { continue }
                    let cxf = c.cx * Double(f)
                    for k in 0..<c.count {
                        let p = lattice[k]
                        let px = (c.r0 * p).sum(), py = (c.r1 * p).sum()
                        let ux = cxf + (dm.m00 * px + dm.m01 * py) * scale
                        let uy = cyf + (dm.m10 * px + dm.m11 * py) * scale
                        let iy0 = Int(uy.rounded(.down)) - hw + 1
                        if iy0 + 2 * hw < band.lowerBound || iy0 >= band.upperBound { continue }
                        let ix0 = Int(ux.rounded(.down)) - hw + 1
                        if ix0 + 2 * hw < 0 || ix0 >= ns { continue }
                        for i in 0...(2 * hw) {
                            let dx = Double(ix0 + i) - ux, dy = Double(iy0 + i) - uy
                            wx[i] = exp(-dx * dx * inv2s2); wy[i] = exp(-dy * dy * inv2s2)
                        }
                        for j in 0...(2 * hw) {
                            let y = iy0 + j
                            guard y >= band.lowerBound, y < band.upperBound else { continue }
                            let row = out + y * ns
                            let wyj = wy[j]
                            for i in 0...(2 * hw) {
                                let x = ix0 + i
                                if x >= 0 && x < ns { row[x] += Float(wx[i] * wyj) }
                            }
                        }
                    }
                }
            }
        }
        // Band limit: Fourier crop to N.
        let finePlan = try RealFFTPlan(shape: [ns, ns])
        let fine = finePlan.forward(grid)
        grid = []
        let h = n / 2 + 1, hf = ns / 2 + 1
        var spec = [Complex32](repeating: Complex32(0, 0), count: n * h)
        let norm = Float(1.0 / Double(f * f))
        for j in 0..<n {
            let fy = j <= n / 2 ? j : j - n
            let jf = fy >= 0 ? fy : fy + ns
            for i in 0..<h {
                let v = fine[jf * hf + i]
                spec[j * h + i] = Complex32(v.re * norm, v.im * norm)
            }
        }
        // Carbon film and CTF.
        var power = 0.0
        for k in 1..<spec.count { power += Double(spec[k].re * spec[k].re + spec[k].im * spec[k].im) }
        let carbon = (amorphousLevel * power / Double(spec.count)).squareRoot() / 2.0.squareRoot()
        let defocus = rng.uniform(defocusRange.lowerBound, defocusRange.upperBound)
        let astig = rng.uniform(0, maxAstigmatism)
        let ctf = try CTF(CTFParameters(defocusU: defocus + astig / 2, defocusV: defocus - astig / 2,
                                        defocusAngle: rng.uniform(0, 180), voltage: voltage,
                                        sphericalAberration: sphericalAberration, amplitudeContrast: amplitudeContrast,
                                        bFactor: bFactor))
        let atomEnvelope = 2 * Double.pi * Double.pi * atomSigma * atomSigma
        for j in 0..<n {
            let nyf = Double(j <= n / 2 ? j : j - n) / Double(n)
            for i in 0..<h {
                let nxf = Double(i) / Double(n)
                // True specimen frequency q = Dᵀ ν / t.
                let qx = (dm.m00 * nxf + dm.m10 * nyf) / t, qy = (dm.m01 * nxf + dm.m11 * nyf) / t
                let (a, b) = rng.normalPair()
                let env = exp(-atomEnvelope * (qx * qx + qy * qy))
                var v = spec[j * h + i]
                v.re += Float(carbon * a * env); v.im += Float(carbon * b * env)
                let c = Float(ctf.value(x: qx, y: qy))
                spec[j * h + i] = Complex32(v.re * c, v.im * c)
            }
        }
        spec[0] = Complex32(0, 0)
        let plan = try RealFFTPlan.cached(shape: [n, n])
        var image = plan.inverse(spec)
        // Contrast and counting noise.
        var sum2 = 0.0
        for v in image { sum2 += Double(v) * Double(v) }
        let sd = (sum2 / Double(image.count)).squareRoot()
        let k = sd > 0 ? contrast / sd : 0
        let perPixel = dose * t * t / max(det, 1e-9)
        for i in image.indices {
            let lambda = max(0, perPixel * (1 + k * Double(image[i])))
            image[i] = Float(CrystalliteImageSimulator.poisson(lambda, &rng))
        }
        return image
    }

    /// A Poisson-distributed count of mean `lambda` (normal approximation above 30).
    static func poisson(_ lambda: Double, _ rng: inout SplitMix64) -> Double {
        if lambda <= 0 { return 0 }
        if lambda > 30 {
            return max(0, (lambda + lambda.squareRoot() * rng.normalPair().0).rounded())
        }
        let l = exp(-lambda)
        var k = 0.0, p = 1.0
        repeat { k += 1; p *= rng.unit() } while p > l
        return k - 1
    }
}
