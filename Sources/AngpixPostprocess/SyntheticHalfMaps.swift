// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Synthetic half maps for tests, benchmarks and demonstrations: a "structure" of Gaussian blobs
// blurred by a B-factor (exp(−B·s²/4) in Fourier space), plus independent Gaussian noise in each
// half, and a soft spherical mask (radius 0.3·N, raised-cosine edge of 6 pixels). Deterministic
// for a given seed (SplitMix64 + Box–Muller), so a test can regenerate exactly the same maps.

import Foundation
import AngpixCore
import AngpixMRC
import AngpixFourier

/// A reproducible pair of half maps with a known structure, and a soft spherical mask.
public struct SyntheticHalfMaps: Sendable {
    public var half1: MRCMap
    public var half2: MRCMap
    public var mask: MRCMap

    /// Makes N³ half maps at `pixelSize` Å: `blobs` Gaussian blobs (σ 0.8–2 pixels) within 0.2·N of
    /// the centre, blurred with `bFactor` Å², plus noise of standard deviation `noise` per half.
    public init(size n: Int, pixelSize: Double, blobs: Int = 40, bFactor: Double = 60,
                noise: Double = 0.05, seed: UInt64 = 1) throws {
        var rng = SplitMix64(seed: seed)
        var structure = [Float](repeating: 0, count: n * n * n)
        let c = Double(n / 2)
        for _ in 0..<blobs {
            let centre = (0..<3).map { _ in c + rng.uniform(-Double(n) / 5, Double(n) / 5) }
            let sigma = rng.uniform(0.8, 2.0)
            let height = rng.uniform(0.5, 1.5)
            let reach = Int((4 * sigma).rounded(.up))
            let lo = centre.map { max(0, Int($0.rounded(.down)) - reach) }
            let hi = centre.map { min(n - 1, Int($0.rounded(.down)) + reach + 1) }
            for z in lo[2]...hi[2] {
                for y in lo[1]...hi[1] {
                    for x in lo[0]...hi[0] {
                        let dx = Double(x) - centre[0], dy = Double(y) - centre[1], dz = Double(z) - centre[2]
                        structure[(z * n + y) * n + x] += Float(height * exp(-(dx * dx + dy * dy + dz * dz) / (2 * sigma * sigma)))
                    }
                }
            }
        }
        if bFactor != 0 {
            let plan = try RealFFTPlan.cached(shape: [n, n, n])
            var spectrum = plan.forward(structure)
            let shells = try FourierShells(cubeOfSize: n)
            let box = Double(n) * pixelSize
            spectrum.withUnsafeMutableBufferPointer { s in
                shells.scale(s, bySquaredRadius: { r2 in Float(exp(-bFactor / 4 * r2 / (box * box))) })
            }
            structure = plan.inverse(spectrum)
        }
        var h1 = structure, h2 = structure
        for i in 0..<structure.count {
            let (a, b) = rng.normalPair()
            h1[i] += Float(noise * a)
            h2[i] += Float(noise * b)
        }
        var m = [Float](repeating: 0, count: n * n * n)
        let r0 = 0.3 * Double(n), width = 6.0
        for z in 0..<n {
            for y in 0..<n {
                for x in 0..<n {
                    let dx = Double(x) - c, dy = Double(y) - c, dz = Double(z) - c
                    let r = (dx * dx + dy * dy + dz * dz).squareRoot()
                    let v = r < r0 ? 1 : (r < r0 + width ? 0.5 + 0.5 * cos(Double.pi * (r - r0) / width) : 0)
                    m[(z * n + y) * n + x] = Float(v)
                }
            }
        }
        half1 = MRCMap(nx: n, ny: n, nz: n, pixelSize: pixelSize, data: h1)
        half2 = MRCMap(nx: n, ny: n, nz: n, pixelSize: pixelSize, data: h2)
        mask = MRCMap(nx: n, ny: n, nz: n, pixelSize: pixelSize, data: m)
    }

    /// Writes the three maps as `<prefix>_half1.mrc`, `<prefix>_half2.mrc`, `<prefix>_mask.mrc`.
    public func write(prefix: String, policy: OutputPolicy = OutputPolicy(overwrite: true)) throws -> (half1: String, half2: String, mask: String) {
        let paths = (prefix + "_half1.mrc", prefix + "_half2.mrc", prefix + "_mask.mrc")
        try MRCFile.write(half1, to: paths.0, policy: policy)
        try MRCFile.write(half2, to: paths.1, policy: policy)
        try MRCFile.write(mask, to: paths.2, policy: policy)
        return paths
    }
}
