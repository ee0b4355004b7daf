// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The score of a map against an atomic model at a trial pixel size.
// Reinterpreting the map's voxel size p0 as s·p0 is the same as scaling the model's coordinates by
// 1/s: atom j goes to voxel  c_v + R(ω)(x_j - c) / (s·p0) + t,  where c is the model's centroid
// (Å), c_v = (c - origin) / p0 its voxel position at the nominal pixel size (the model is fitted
// into the map as read, origin from the header), t a refined offset (voxels) and R(ω) an optional
// small rotation about the centroid (ω a rotation vector in degrees, see SmallRotation). So the map is never
// resampled: the model is re-rendered (DensityRenderer, separable Gaussians, cost ∝ atoms) inside a
// box around the atoms, with the same low-pass as the map's in voxel units (B_res·s² in Å² at the
// trial pixel size) plus an overall B.
// The score is the weighted Pearson correlation over a soft mask around the atoms: weight 1 within
// `maskRadius` Å of the nearest atom, falling as cos² to 0 over a further `maskEdge` Å. The
// nearest-atom distance moves continuously with the atoms, so the score is a smooth function of s.

import AngpixCore
import Foundation
import AngpixModels

/// Scores the agreement of a (low-passed) map with a model at trial scales.
final class ModelScorer: @unchecked Sendable {
    let map: DensityGrid
    let atoms: DensityAtoms
    let centroid: SIMD3<Double>
    let centroidVoxel: SIMD3<Double>
    let lowPassB: Double
    let maskRadius: Double
    let maskEdge: Double
    let box: VoxelBox
    private var rho: [Float]
    private var distance2: [Float]
    private(set) var evaluations = 0
    /// Σ weights of the last evaluation.
    private(set) var lastMaskWeight = 0.0

    init(map: DensityGrid, atoms: DensityAtoms, lowPassB: Double, maskRadius: Double, maskEdge: Double = 2,
         scaleRange: ClosedRange<Double>, maxOffset: Double, maxRotation: Double = 0) throws {
        self.map = map
        self.atoms = atoms
        self.lowPassB = lowPassB
        self.maskRadius = maskRadius
        self.maskEdge = maskEdge
        var c = SIMD3<Double>.zero
        for p in atoms.positions { c += p }
        centroid = c / Double(max(1, atoms.count))
        centroidVoxel = (centroid - map.origin) / map.pixelSize
        // The box: atoms at both ends of the range, padded by the widest reach.
        var lo = SIMD3<Double>(repeating: .infinity), hi = SIMD3<Double>(repeating: -.infinity)
        var inside = 0
        var radius = 0.0
        let upper = SIMD3<Double>(Double(map.nx - 1), Double(map.ny - 1), Double(map.nz - 1))
        for p in atoms.positions {
            for s in [scaleRange.lowerBound, scaleRange.upperBound] {
                let v = centroidVoxel + (p - centroid) / (s * map.pixelSize)
                lo = pointwiseMin(lo, v); hi = pointwiseMax(hi, v)
            }
            radius = max(radius, ((p - centroid) * (p - centroid)).sum().squareRoot())
            let v = (p - map.origin) / map.pixelSize
            if all(v .>= .zero) && all(v .<= upper) { inside += 1 }
        }
        if inside * 2 < atoms.count { throw CalibrationError.modelOutsideMap(inside: inside, total: atoms.count) }
        let widest = (atoms.widths.max() ?? 50) + lowPassB * scaleRange.upperBound * scaleRange.upperBound + 300
        let reachÅ = max((widest * log(1000.0)).squareRoot() / (2 * Double.pi), maskRadius + maskEdge)
        // A rotation by at most maxRotation degrees moves an atom by at most 2 r sin(θ/2) ≤ r θ.
        let turn = radius * maxRotation * Double.pi / 180 / (scaleRange.lowerBound * map.pixelSize)
        let pad = reachÅ / (scaleRange.lowerBound * map.pixelSize) + maxOffset + turn + 1
        let l = SIMD3<Int>(pointwiseMax(SIMD3<Double>.zero, (lo - pad).rounded(.down)))
        let h = SIMD3<Int>(pointwiseMin(upper, (hi + pad).rounded(.up)))
        box = VoxelBox(lower: l, size: h &- l &+ 1)
        rho = [Float](repeating: 0, count: box.count)
        distance2 = [Float](repeating: 0, count: box.count)
    }

    /// Voxel positions of the atoms at scale `s`, offset `t` and rotation `ω` (degrees).
    func positions(scale s: Double, offset t: SIMD3<Double>, rotation: SIMD3<Double> = .zero) -> [SIMD3<Double>] {
        let f = 1 / (s * map.pixelSize)
        let base = centroidVoxel + t
        if rotation == .zero {
            return atoms.positions.map { base + ($0 - centroid) * f }
        }
        let r = SmallRotation(degrees: rotation)
        return atoms.positions.map { base + r.apply($0 - centroid) * f }
    }

    /// The weighted correlation at scale `s`, offset `t` (voxels), rotation `ω` (degrees) and overall B (Å²).
    func score(scale s: Double, offset t: SIMD3<Double>, rotation: SIMD3<Double> = .zero, overallB: Double) -> Double {
        evaluations += 1
        let pixel = s * map.pixelSize
        let box = self.box
        let voxels = positions(scale: s, offset: t, rotation: rotation)
        // Model density.
        rho.withUnsafeMutableBufferPointer { out in
            out.update(repeating: 0)
            DensityRenderer.render(atoms: atoms, voxelPositions: voxels, pixelSize: pixel,
                                   extraB: overallB + lowPassB * s * s, box: box, into: out)
        }
        // Nearest-atom distance (voxels²) within the mask's reach.
        let reach = (maskRadius + maskEdge) / pixel
        let reach2 = Float(reach * reach)
        let lowerD = SIMD3<Double>(box.lower)
        let local = voxels.map { $0 - lowerD }
        let buckets = SlabBuckets(z: local.map(\.z), radius: [Double](repeating: reach, count: local.count), depth: box.size.z)
        distance2.withUnsafeMutableBufferPointer { dist in
            nonisolated(unsafe) let d = dist
            parallelForEach(buckets.ranges.count) { slab in
                let zr = buckets.ranges[slab]
                for i in zr.lowerBound * box.size.x * box.size.y ..< zr.upperBound * box.size.x * box.size.y { d[i] = reach2 }
                for jj in buckets.members[slab] {
                    let p = local[Int(jj)]
                    let x0 = max(0, Int((p.x - reach).rounded(.up))), x1 = min(box.size.x - 1, Int((p.x + reach).rounded(.down)))
                    let y0 = max(0, Int((p.y - reach).rounded(.up))), y1 = min(box.size.y - 1, Int((p.y + reach).rounded(.down)))
                    let z0 = max(zr.lowerBound, Int((p.z - reach).rounded(.up))), z1 = min(zr.upperBound - 1, Int((p.z + reach).rounded(.down)))
                    if x0 > x1 || y0 > y1 || z0 > z1 { continue }
                    let px = Float(p.x), py = Float(p.y), pz = Float(p.z)
                    for z in z0...z1 {
                        let dz = Float(z) - pz
                        for y in y0...y1 {
                            let dy = Float(y) - py
                            let ryz = dy * dy + dz * dz
                            if ryz >= reach2 { continue }
                            let row = (z * box.size.y + y) * box.size.x
                            for x in x0...x1 {
                                let dx = Float(x) - px
                                let r2 = dx * dx + ryz
                                if r2 < d[row + x] { d[row + x] = r2 }
                            }
                        }
                    }
                }
            }
        }
        // Weighted sums.
        let inner = Float(maskRadius / pixel), edge = Float(maskEdge / pixel), inner2 = inner * inner
        let ranges = buckets.ranges
        var partial = [[Double]](repeating: [0, 0, 0, 0, 0, 0], count: ranges.count)
        let nx = map.nx, ny = map.ny
        map.data.withUnsafeBufferPointer { mapData in
            rho.withUnsafeBufferPointer { rhoData in
                distance2.withUnsafeBufferPointer { distData in
                    nonisolated(unsafe) let m = mapData, r = rhoData, d = distData
                    nonisolated(unsafe) var results = partial
                    let lock = NSLock()
                    parallelForEach(ranges.count) { slab in
                        var sw = 0.0, sm = 0.0, smm = 0.0, sr = 0.0, srr = 0.0, smr = 0.0
                        for z in ranges[slab] {
                            for y in 0..<box.size.y {
                                let row = (z * box.size.y + y) * box.size.x
                                let mrow = ((z + box.lower.z) * ny + y + box.lower.y) * nx + box.lower.x
                                var w1: Float = 0, m1: Float = 0, mm1: Float = 0, r1: Float = 0, rr1: Float = 0, mr1: Float = 0
                                for x in 0..<box.size.x {
                                    let d2 = d[row + x]
                                    if d2 >= reach2 { continue }
                                    var w: Float = 1
                                    if d2 > inner2 {
                                        let dist = d2.squareRoot()
                                        let c = cosf(Float.pi / 2 * (dist - inner) / edge)
                                        w = c * c
                                    }
                                    let mv = m[mrow + x], rv = r[row + x]
                                    w1 += w; m1 += w * mv; mm1 += w * mv * mv
                                    r1 += w * rv; rr1 += w * rv * rv; mr1 += w * mv * rv
                                }
                                sw += Double(w1); sm += Double(m1); smm += Double(mm1)
                                sr += Double(r1); srr += Double(rr1); smr += Double(mr1)
                            }
                        }
                        lock.lock(); results[slab] = [sw, sm, smm, sr, srr, smr]; lock.unlock()
                    }
                    partial = results
                }
            }
        }
        var s6 = [Double](repeating: 0, count: 6)
        for p in partial { for i in 0..<6 { s6[i] += p[i] } }
        lastMaskWeight = s6[0]
        return weightedCorrelation(s6)
    }
}

/// Pearson correlation from weighted sums [Σw, Σwa, Σwa², Σwb, Σwb², Σwab].
func weightedCorrelation(_ s: [Double]) -> Double {
    let w = s[0]
    guard w > 0 else { return 0 }
    let ma = s[1] / w, mb = s[3] / w
    let va = s[2] / w - ma * ma, vb = s[4] / w - mb * mb
    let cov = s[5] / w - ma * mb
    guard va > 0, vb > 0 else { return 0 }
    return cov / (va * vb).squareRoot()
}
