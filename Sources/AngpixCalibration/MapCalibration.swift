// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Relative scale between two maps of the same structure ("angpix calibrate map MAP REFERENCE"):
// the pixel size of MAP at which it matches REFERENCE (whose pixel size is trusted). Both maps are
// low-passed to the resolution; REFERENCE's density (above its mean + 1.5 standard deviations,
// dilated by the mask radius) is the mask, with centroid g (REFERENCE voxels).
// Overlay at the header pixel sizes: REFERENCE voxel v lies at MAP voxel u₀(v) = A + v·p_r/p_m,
// with A = (o_r − o_m)/p_m when the maps are placed by their origins o (MRC ORIGIN, or
// NXSTART·pixel: the same point in Å is the same point of the structure), or A = c_m − c_r·p_r/p_m
// when their box centres c are overlaid (RELION's convention: origin 0, structure centred).
// At a trial scale s, MAP is scaled about the mask centroid: v is compared with MAP at
// u₀(g) + (v − g)·p_r/(s·p_m) + t (trilinear interpolation, t a refined offset in MAP voxels), by
// the Pearson correlation over the mask; the points v are jittered inside their voxels (see
// MapScorer) so that interpolation does not bias the scale. The search and the uncertainty are
// those of the model calibration (ScaleSearch).

import AngpixCore
import Foundation

/// How two maps are overlaid before the search.
public enum MapOverlay: String, Sendable, Codable, CaseIterable {
    /// By their origins (the same Å position is the same point), unless both origins are zero,
    /// in which case by their box centres.
    case auto
    /// By their origins (MRC ORIGIN, or NXSTART·pixel size).
    case origin
    /// By their box centres (the structure centred in each box, origins ignored).
    case centre
}

/// Calibration of one map against another.
public enum MapCalibration {
    /// The overlay `mode` resolves to for these two maps.
    public static func resolvedOverlay(_ mode: MapOverlay, map: DensityGrid, reference: DensityGrid) -> MapOverlay {
        guard mode == .auto else { return mode }
        return map.origin == .zero && reference.origin == .zero ? .centre : .origin
    }

    /// Finds the pixel size of `map` that matches `reference`.
    public static func run(map input: DensityGrid, reference inputReference: DensityGrid,
                           options: CalibrationOptions = CalibrationOptions(),
                           overlay: MapOverlay = .auto) throws -> CalibrationResult {
        try options.validate(pixelSize: input.pixelSize)
        try options.validate(pixelSize: inputReference.pixelSize)
        let resolution = options.resolution ?? 2.5 * max(input.pixelSize, inputReference.pixelSize)
        let lowPassB = 4 * log(2.0) * resolution * resolution
        var map = input, reference = inputReference
        let sigma = GaussianFilter.sigma(bFactor: lowPassB)
        GaussianFilter.blur(&map.data, nx: map.nx, ny: map.ny, nz: map.nz, sigma: sigma / map.pixelSize)
        GaussianFilter.blur(&reference.data, nx: reference.nx, ny: reference.ny, nz: reference.nz, sigma: sigma / reference.pixelSize)
        let mask = try referenceMask(reference, radius: options.maskRadius)
        let maxOffset = options.maxOffset / input.pixelSize
        let ratio = reference.pixelSize / map.pixelSize
        let resolved = resolvedOverlay(overlay, map: input, reference: inputReference)
        let shift: SIMD3<Double>
        switch resolved {
        case .centre, .auto:
            let cm = SIMD3<Double>(Double(map.nx / 2), Double(map.ny / 2), Double(map.nz / 2))
            let cr = SIMD3<Double>(Double(reference.nx / 2), Double(reference.ny / 2), Double(reference.nz / 2))
            shift = cm - cr * ratio
        case .origin:
            shift = (reference.origin - map.origin) / map.pixelSize
        }
        var centroid = SIMD3<Double>.zero
        for i in mask {
            let i = Int(i)
            centroid += SIMD3(Double(i % reference.nx), Double((i / reference.nx) % reference.ny), Double(i / (reference.nx * reference.ny)))
        }
        centroid /= Double(mask.count)
        let pivotInMap = shift + centroid * ratio
        let scorer = MapScorer(map: map, reference: reference, mask: mask, pivot: centroid, pivotInMap: pivotInMap)
        let search = searchScale(range: options.scaleRange, nominalPixel: input.pixelSize, maxOffset: maxOffset,
                                 extraRange: nil, extraStart: 0) { s, t, _, _ in
            scorer.score(scale: s, offset: t)
        }
        let bestPixel = search.scale * input.pixelSize
        let samples = ScaleUncertainty.independentSamples(maskVoxels: Double(mask.count), pixelSize: inputReference.pixelSize, resolution: resolution)
        let sigmaScale = ScaleUncertainty.sigma(score: search.score, curvature: search.curvature, independentSamples: samples)
        var warnings: [String] = []
        let inside = scorer.insideFraction(scale: search.scale, offset: search.offset)
        if inside < 0.9 {
            warnings.append(String(format: "only %.0f %% of the reference's mask falls inside MAP at the best scale: check the overlay (--overlay %@)", inside * 100,
                                   resolved == .origin ? "centre" : "origin"))
        }
        if search.atEdge { warnings.append("the best pixel size lies at the edge of the searched range: widen --range") }
        if search.score < 0.3 {
            warnings.append("weak correlation (\(formatFixed(search.score, decimals: 2))): are the maps of the same structure, overlaid by "
                            + (resolved == .origin ? "their origins?" : "their box centres?"))
        }
        return CalibrationResult(
            nominalPixelSize: input.pixelSize, pixelSize: bestPixel, uncertainty: sigmaScale * input.pixelSize,
            scale: search.scale, score: search.score, resolution: resolution,
            offset: [search.offset.x, search.offset.y, search.offset.z].map { $0 * bestPixel },
            rotation: nil, rotationAngle: nil, overallBFactor: nil, curve: search.curve, independentSamples: samples,
            evaluations: scorer.evaluations, atoms: nil, warnings: warnings)
    }

    /// The voxels of `reference` above mean + 1.5 σ, dilated by `radius` Å (a cube dilation per axis).
    static func referenceMask(_ reference: DensityGrid, radius: Double) throws -> [Int32] {
        let n = Double(reference.count)
        let mean = reference.data.reduce(0.0) { $0 + Double($1) } / n
        let sd = (reference.data.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
        guard sd > 0 else { throw CalibrationError.flatMap("the reference map") }
        let threshold = Float(mean + 1.5 * sd)
        let nx = reference.nx, ny = reference.ny, nz = reference.nz
        var inside = reference.data.map { $0 > threshold ? UInt8(1) : 0 }
        let r = max(0, Int((radius / reference.pixelSize).rounded()))
        // Separable dilation along x, y, z.
        for axis in 0..<3 {
            let (len, stride) = axis == 0 ? (nx, 1) : axis == 1 ? (ny, nx) : (nz, nx * ny)
            var next = inside
            for z in 0..<nz { for y in 0..<ny { for x in 0..<nx {
                let i = (z * ny + y) * nx + x
                if inside[i] == 0 { continue }
                let c = axis == 0 ? x : axis == 1 ? y : z
                for k in max(0, c - r)...min(len - 1, c + r) { next[i + (k - c) * stride] = 1 }
            } } }
            inside = next
        }
        // Leave out the border, where interpolation of MAP is undefined at any scale anyway.
        var list: [Int32] = []
        for z in 1..<(nz - 1) { for y in 1..<(ny - 1) { for x in 1..<(nx - 1) {
            let i = (z * ny + y) * nx + x
            if inside[i] != 0 { list.append(Int32(i)) }
        } } }
        if list.isEmpty { throw CalibrationError.emptyMask }
        return list
    }
}

/// Trilinear interpolation of `data` (nx × ny × nz) at `u` (voxels), nil outside.
@inline(__always)
func trilinear(_ m: UnsafeBufferPointer<Float>, _ nx: Int, _ ny: Int, _ nz: Int, _ u: SIMD3<Double>) -> Double? {
    let x0 = Int(u.x.rounded(.down)), y0 = Int(u.y.rounded(.down)), z0 = Int(u.z.rounded(.down))
    if x0 < 0 || y0 < 0 || z0 < 0 || x0 >= nx - 1 || y0 >= ny - 1 || z0 >= nz - 1 { return nil }
    let fx = u.x - Double(x0), fy = u.y - Double(y0), fz = u.z - Double(z0)
    let b = (z0 * ny + y0) * nx + x0
    let sy = nx, sz = nx * ny
    let c00 = Double(m[b]) * (1 - fx) + Double(m[b + 1]) * fx
    let c10 = Double(m[b + sy]) * (1 - fx) + Double(m[b + sy + 1]) * fx
    let c01 = Double(m[b + sz]) * (1 - fx) + Double(m[b + sz + 1]) * fx
    let c11 = Double(m[b + sz + sy]) * (1 - fx) + Double(m[b + sz + sy + 1]) * fx
    return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz
}

/// Correlation of REFERENCE with MAP resampled at a trial scale.
///
/// Interpolation smooths a map by an amount that depends on where the samples fall between
/// voxels; if REFERENCE were sampled on its grid, MAP's smoothing (and so the noise it removes)
/// would change with the scale and bias the search (towards scales where the grids do not
/// align). So both maps are sampled at the same jittered points: each mask voxel moved by a fixed
/// pseudo-random sub-voxel offset, REFERENCE interpolated there once, MAP at every trial scale.
final class MapScorer: @unchecked Sendable {
    let map: DensityGrid
    /// Sample points relative to the pivot (REFERENCE voxels).
    let points: [SIMD3<Float>]
    /// Where the pivot lies in MAP at the nominal pixel sizes (MAP voxels).
    let pivotInMap: SIMD3<Double>
    /// REFERENCE at the points.
    let values: [Float]
    let referencePixel: Double
    private(set) var evaluations = 0

    /// `pivot`: the point (REFERENCE voxels) about which MAP is scaled; `pivotInMap`: its MAP voxel
    /// position at the nominal pixel sizes.
    init(map: DensityGrid, reference: DensityGrid, mask: [Int32], pivot cr: SIMD3<Double>, pivotInMap: SIMD3<Double>) {
        self.map = map
        self.pivotInMap = pivotInMap
        referencePixel = reference.pixelSize
        var pts: [SIMD3<Float>] = [], vals: [Float] = []
        pts.reserveCapacity(mask.count); vals.reserveCapacity(mask.count)
        var state: UInt64 = 0x2545F4914F6CDD1D
        func jitter() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) - 0.5
        }
        let rnx = reference.nx, rny = reference.ny, rnz = reference.nz
        reference.data.withUnsafeBufferPointer { r in
            for i in mask {
                let i = Int(i)
                let v = SIMD3<Double>(Double(i % rnx), Double((i / rnx) % rny), Double(i / (rnx * rny)))
                let p = v + SIMD3(jitter(), jitter(), jitter())
                if let value = trilinear(r, rnx, rny, rnz, p) {
                    pts.append(SIMD3<Float>(p - cr)); vals.append(Float(value))
                }
            }
        }
        points = pts; values = vals
    }

    func score(scale s: Double, offset t: SIMD3<Double>) -> Double {
        evaluations += 1
        let f = referencePixel / (s * map.pixelSize)
        let cm = pivotInMap + t
        let mnx = map.nx, mny = map.ny, mnz = map.nz
        let parts = splitRange(points.count, into: Parallelism.jobs * 4)
        nonisolated(unsafe) var partial = [[Double]](repeating: [0, 0, 0, 0, 0, 0], count: parts.count)
        let lock = NSLock()
        map.data.withUnsafeBufferPointer { mp in
            points.withUnsafeBufferPointer { pp in
                values.withUnsafeBufferPointer { vp in
                    nonisolated(unsafe) let m = mp, pts = pp, vals = vp
                    parallelForEach(parts.count) { p in
                        var sw = 0.0, sa = 0.0, saa = 0.0, sb = 0.0, sbb = 0.0, sab = 0.0
                        for q in parts[p] {
                            let u = cm + SIMD3<Double>(pts[q]) * f
                            guard let mv = trilinear(m, mnx, mny, mnz, u) else { continue }
                            let rv = Double(vals[q])
                            sw += 1; sa += rv; saa += rv * rv; sb += mv; sbb += mv * mv; sab += rv * mv
                        }
                        lock.lock(); partial[p] = [sw, sa, saa, sb, sbb, sab]; lock.unlock()
                    }
                }
            }
        }
        var s6 = [Double](repeating: 0, count: 6)
        for p in partial { for i in 0..<6 { s6[i] += p[i] } }
        return weightedCorrelation(s6)
    }

    /// The fraction of the sample points that fall inside MAP at scale `s` and offset `t`.
    func insideFraction(scale s: Double, offset t: SIMD3<Double>) -> Double {
        let f = referencePixel / (s * map.pixelSize)
        let cm = pivotInMap + t
        let upper = SIMD3<Double>(Double(map.nx - 1), Double(map.ny - 1), Double(map.nz - 1))
        var inside = 0
        for p in points {
            let u = cm + SIMD3<Double>(p) * f
            if all(u .>= .zero) && all(u .< upper) { inside += 1 }
        }
        return Double(inside) / Double(max(1, points.count))
    }
}
