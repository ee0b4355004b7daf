// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The maps the calibration works on: a voxel grid with its nominal pixel size and origin (from the
// MRC header), and a separable Gaussian low-pass in real space (the filter whose Fourier transform
// is exp(-B s²), s = |k|/2; σ² = B / (8π²) Å²).

import AngpixCore
import Foundation

/// A 3D map: x fastest, then y, then z; voxel (i, j, k) sits at origin + pixelSize·(i, j, k) Å.
public struct DensityGrid: Sendable {
    public var nx: Int, ny: Int, nz: Int
    /// The nominal (header) voxel size (Å).
    public var pixelSize: Double
    /// Position of voxel (0, 0, 0) (Å), e.g. from the MRC ORIGIN or NXSTART·pixelSize.
    public var origin: SIMD3<Double>
    public var data: [Float]

    public init(nx: Int, ny: Int, nz: Int, pixelSize: Double, origin: SIMD3<Double> = .zero, data: [Float]) {
        precondition(data.count == nx * ny * nz)
        self.nx = nx; self.ny = ny; self.nz = nz
        self.pixelSize = pixelSize; self.origin = origin; self.data = data
    }

    public var count: Int { nx * ny * nz }
    public var size: SIMD3<Int> { SIMD3(nx, ny, nz) }
}

/// Real-space Gaussian filtering.
public enum GaussianFilter {
    /// The standard deviation (Å) of the real-space Gaussian whose transform is exp(-B s²).
    public static func sigma(bFactor: Double) -> Double { (max(0, bFactor) / (8 * Double.pi * Double.pi)).squareRoot() }

    /// Blurs `data` (nx × ny × nz) with an isotropic Gaussian of `sigma` voxels (truncated at 4σ,
    /// the kernel normalised to sum 1, edges clamped).
    public static func blur(_ data: inout [Float], nx: Int, ny: Int, nz: Int, sigma: Double) {
        guard sigma > 0.05 else { return }
        let radius = max(1, Int((4 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { Float(exp(-0.5 * Double($0 * $0) / (sigma * sigma))) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        data.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let d = buffer
            for axis in 0..<3 {
                let (n, stride, lines): (Int, Int, Int) = axis == 0 ? (nx, 1, ny * nz) : axis == 1 ? (ny, nx, nx * nz) : (nz, nx * ny, nx * ny)
                let parts = splitRange(lines, into: Parallelism.jobs * 4)
                parallelForEach(parts.count) { p in
                    var line = [Float](repeating: 0, count: n)
                    for l in parts[p] {
                        let base: Int
                        switch axis {
                        case 0: base = l * nx
                        case 1: base = (l / nx) * nx * ny + (l % nx)
                        default: base = l
                        }
                        for i in 0..<n { line[i] = d[base + i * stride] }
                        for i in 0..<n {
                            var s: Float = 0
                            for k in -radius...radius {
                                let j = min(n - 1, max(0, i + k))
                                s += kernel[k + radius] * line[j]
                            }
                            d[base + i * stride] = s
                        }
                    }
                }
            }
        }
    }
}

/// Work split over z-slabs of a box: which items (atoms) touch which slab.
struct SlabBuckets {
    var ranges: [Range<Int>]
    var members: [[Int32]]

    /// Buckets items with z-centres `z` (box voxel coordinates) and reach `radius` over `depth` slices.
    init(z: [Double], radius: [Double], depth: Int) {
        ranges = splitRange(depth, into: max(1, Parallelism.jobs * 4))
        members = [[Int32]](repeating: [], count: ranges.count)
        let slabSize = max(1, ranges.first?.count ?? 1)
        for j in 0..<z.count {
            let lo = max(0, Int((z[j] - radius[j]).rounded(.up)))
            let hi = min(depth - 1, Int((z[j] + radius[j]).rounded(.down)))
            if hi < lo { continue }
            var s = min(ranges.count - 1, lo / slabSize)
            while s > 0 && ranges[s].lowerBound > lo { s -= 1 }
            while s < ranges.count && ranges[s].lowerBound <= hi {
                if ranges[s].upperBound > lo { members[s].append(Int32(j)) }
                s += 1
            }
        }
    }
}
