// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Maps made of Gaussian blobs, whose projections and their Fourier transforms are known exactly.

import Foundation
import AngpixCore
import AngpixFourier
import AngpixMRC
@testable import AngpixRefine

/// A sum of isotropic Gaussian blobs (positions in Å from the map centre).
struct BlobObject {
    var centres: [(Double, Double, Double)]
    var amplitudes: [Double]
    var sigmaAngstrom: Double

    /// An asymmetric object: blobs at distinct distances and directions.
    static let asymmetric = BlobObject(
        centres: [(0, 0, 0), (9, 0, 0), (0, 5, 0), (0, 0, -7), (-4, 6, 3), (5, -3, 6)],
        amplitudes: [1, 0.8, 0.6, 0.7, 0.5, 0.9], sigmaAngstrom: 2.2)

    /// `count` blobs of `sigmaAngstrom` spread through a sphere of `radius` Å, with amplitudes in
    /// [0.5, 1], drawn from `rng`: signal to high resolution, asymmetric.
    static func random(count: Int = 40, radius: Double = 14, sigmaAngstrom: Double = 1.2, rng: inout SplitMix64) -> BlobObject {
        var centres: [(Double, Double, Double)] = [], amps: [Double] = []
        for _ in 0..<count {
            var c: (Double, Double, Double)
            repeat { c = (rng.uniform(-radius, radius), rng.uniform(-radius, radius), rng.uniform(-radius, radius)) }
            while c.0 * c.0 + c.1 * c.1 + c.2 * c.2 > radius * radius
            centres.append(c); amps.append(rng.uniform(0.5, 1))
        }
        return BlobObject(centres: centres, amplitudes: amps, sigmaAngstrom: sigmaAngstrom)
    }

    /// The map sampled on a cube of `box` voxels at `pixelSize` Å (centre at voxel box/2).
    func map(box: Int, pixelSize: Double) -> MRCMap {
        var data = [Float](repeating: 0, count: box * box * box)
        let h = box / 2, w = 1 / (2 * sigmaAngstrom * sigmaAngstrom)
        for z in 0..<box { for y in 0..<box { for x in 0..<box {
            var v = 0.0
            let X = Double(x - h) * pixelSize, Y = Double(y - h) * pixelSize, Z = Double(z - h) * pixelSize
            for (b, c) in centres.enumerated() {
                let d2 = (X - c.0) * (X - c.0) + (Y - c.1) * (Y - c.1) + (Z - c.2) * (Z - c.2)
                v += amplitudes[b] * exp(-d2 * w)
            }
            data[(z * box + y) * box + x] = Float(v)
        } } }
        return MRCMap(nx: box, ny: box, nz: box, pixelSize: pixelSize, data: data)
    }

    /// Where blob b appears in the image plane (Å from the projection centre): (A·X)_{x,y}.
    func imageCentres(_ pose: ParticlePose) -> [(Double, Double)] {
        let a = relionEulerMatrix(rotDegrees: pose.rotDegrees, tiltDegrees: pose.tiltDegrees, psiDegrees: pose.psiDegrees)
        return centres.map { c in
            (a[0] * c.0 + a[1] * c.1 + a[2] * c.2, a[3] * c.0 + a[4] * c.1 + a[5] * c.2)
        }
    }

    /// The projection along the viewing direction, in real space on a box of `box` pixels at
    /// `pixelSize` Å, in map-voxel units (sum over `mapPixelSize` Å voxels), with the object's
    /// centre at pixel box/2 − origin/p (RELION's convention).
    func realSpaceProjection(_ pose: ParticlePose, box: Int, pixelSize: Double, mapPixelSize: Double) -> [Float] {
        let cs = imageCentres(pose)
        let lineIntegral = (2 * Double.pi).squareRoot() * sigmaAngstrom / mapPixelSize
        let w = 1 / (2 * sigmaAngstrom * sigmaAngstrom)
        let cx = Double(box / 2) * pixelSize - pose.originXAngstrom, cy = Double(box / 2) * pixelSize - pose.originYAngstrom
        var out = [Float](repeating: 0, count: box * box)
        for y in 0..<box { for x in 0..<box {
            var v = 0.0
            for (b, c) in cs.enumerated() {
                // Periodic images of the blob (the DFT of a box sees the object periodically).
                for wy in -1...1 { for wx in -1...1 {
                    let dx = Double(x) * pixelSize - cx - c.0 + Double(wx * box) * pixelSize
                    let dy = Double(y) * pixelSize - cy - c.1 + Double(wy * box) * pixelSize
                    v += amplitudes[b] * lineIntegral * exp(-(dx * dx + dy * dy) * w)
                } }
            }
            out[y * box + x] = Float(v)
        } }
        return out
    }

    /// The analytic Fourier transform of the projection (FFT / s² normalisation of a box of `box`
    /// at `pixelSize`, voxel units of `mapPixelSize`), phase origin at pixel 0 as the projector's.
    func analyticSpectrum(_ pose: ParticlePose, box: Int, pixelSize: Double, mapPixelSize: Double,
                          reference referenceBox: Int) -> [Complex32] {
        let cs = imageCentres(pose)
        let hx = box / 2 + 1, extent = Double(box) * pixelSize
        let tx = Double(box / 2) * pixelSize - pose.originXAngstrom, ty = Double(box / 2) * pixelSize - pose.originYAngstrom
        // ∫∫ projection · e^{−2πik·r} d²r / (pixel area) with the projection in map-voxel units,
        // then RELION's normalisation: the reference's slice divided by s_ref² (map voxels).
        let lineIntegral = (2 * Double.pi).squareRoot() * sigmaAngstrom / mapPixelSize
        let area = 2 * Double.pi * sigmaAngstrom * sigmaAngstrom / (mapPixelSize * mapPixelSize)
        let norm = 1 / Double(referenceBox * referenceBox)
        var out = [Complex32](repeating: .zero, count: box * hx)
        for row in 0..<box {
            let ky = Double(fourierFrequency(row, box)) / extent
            for i in 0..<hx {
                let kx = Double(i) / extent
                let env = lineIntegral * area * norm * exp(-2 * Double.pi * Double.pi * sigmaAngstrom * sigmaAngstrom * (kx * kx + ky * ky))
                var re = 0.0, im = 0.0
                for (b, c) in cs.enumerated() {
                    let ph = -2 * Double.pi * (kx * (c.0 + tx) + ky * (c.1 + ty))
                    re += amplitudes[b] * env * cos(ph)
                    im += amplitudes[b] * env * sin(ph)
                }
                out[row * hx + i] = Complex32(Float(re), Float(im))
            }
        }
        return out
    }
}

/// ‖a − b‖ / ‖b‖ over the values where `include(index)`.
func relativeError(_ a: [Complex32], _ b: [Complex32], include: (Int) -> Bool = { _ in true }) -> Double {
    var num = 0.0, den = 0.0
    for i in a.indices where include(i) {
        let d = a[i] - b[i]
        num += Double(d.normSquared)
        den += Double(b[i].normSquared)
    }
    return (num / max(den, 1e-300)).squareRoot()
}
