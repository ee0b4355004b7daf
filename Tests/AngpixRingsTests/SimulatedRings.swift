// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Helpers of the ring-calibration tests: simulated gold images (AngpixSimulation) with a known
// detector distortion, and the truths the estimator must find, derived here from the
// distortion D (u = D r / t) on its own terms.

import Foundation
import AngpixCore
import AngpixOptics
import AngpixRings
import AngpixSimulation
import AngpixMRC

/// A detector distortion given as the magnification along two axes: `low` along the axis at
/// `angle` degrees from +x towards +y (the major axis, where the image must be stretched) and
/// `high` perpendicular to it; D = R diag(low, high) Rᵀ.
func distortion(low: Double, high: Double, angle: Double) -> Matrix2x2 {
    let a = angle * Double.pi / 180
    let c = cos(a), s = sin(a)
    return Matrix2x2(low * c * c + high * s * s, (low - high) * c * s, (low - high) * c * s, low * s * s + high * c * c)
}

/// The truths for a symmetric D at nominal pixel size p: mean pixel size t / √det D, the
/// anisotropy (high/low − 1)·100 and rlnMagMat = (p / t) D (a frequency ν in cycles per pixel is
/// k = ν / p at the nominal pixel size and q = Dᵀ ν / t in the specimen).
func expectedMagMatrix(_ d: Matrix2x2, truePixelSize t: Double, nominal p: Double) -> Matrix2x2 {
    let s = p / t
    return Matrix2x2(s * d.m00, s * d.m10, s * d.m01, s * d.m11)
}

/// The SIMULATED gold images shared by the accuracy test and the command-line round trip,
/// simulated once per test process: 6 × 2048² (rendered on a 4096² grid), true pixel size
/// 0.85 Å, 1 % anisotropy with the major axis at −50°, labelled 0.8585 Å (1 % off), seed 1701.
enum SharedGold {
    static let truePixelSize = 0.85
    static let nominalPixelSize = 0.8585
    static let axisAngle = -50.0
    static let low = 0.995, high = 1.005
    static let seed: UInt64 = 1701
    static let count = 6, size = 2048
    static var distortionMatrix: Matrix2x2 { distortion(low: low, high: high, angle: axisAngle) }
    static let images: Result<[RingImage], any Error> = Result {
        try simulateImages(count: count, size: size, truePixelSize: truePixelSize, distortion: distortion(low: low, high: high, angle: axisAngle), seed: seed)
    }
}

/// Simulates `count` images (seeds seed, seed+1, ...), one after the other (each in parallel).
func simulateImages(count: Int, size: Int, truePixelSize: Double, distortion d: Matrix2x2, seed: UInt64,
                    configure: (inout CrystalliteImageSimulator) -> Void = { _ in }) throws -> [RingImage] {
    var sim = CrystalliteImageSimulator(size: size, truePixelSize: truePixelSize, distortion: d)
    // Defocus 1–2 µm: closer to focus the CTF's oscillation is as wide as the gold rings and its
    // slope across a ring moves the peak (measured: −0.59 % in the pixel size with 0.5–2 µm and
    // no astigmatism, 6 × 2048², seed 4242; see docs/calibrate-rings.md).
    sim.defocusRange = 10000...20000
    configure(&sim)
    let s = sim
    var images = [RingImage?](repeating: nil, count: count)
    nonisolated(unsafe) var failure: Error? = nil
    images.withUnsafeMutableBufferPointer { buf in
        nonisolated(unsafe) let b = buf
        for i in 0..<count {
            do {
                let data = try s.simulate(seed: seed &+ UInt64(i))
                b[i] = RingImage(path: "sim\(i + 1).mrc", nx: size, ny: size, headerPixelSize: truePixelSize, frames: 1, data: data)
            } catch { failure = error }
        }
    }
    if let failure { throw failure }
    return images.map { $0! }
}

/// Writes images as MRC files in `folder` and returns their paths.
func writeImages(_ images: [RingImage], folder: String, pixelSize: Double, prefix: String = "gold") throws -> [String] {
    try images.enumerated().map { i, im in
        let path = (folder as NSString).appendingPathComponent("\(prefix)\(i + 1).mrc")
        try MRCFile.write(MRCMap(nx: im.nx, ny: im.ny, nz: 1, pixelSize: pixelSize, data: im.data), to: path, policy: OutputPolicy())
        return path
    }
}

/// The difference of two axis angles (degrees), wrapped into ±90°.
func angleDifference(_ a: Double, _ b: Double) -> Double {
    var d = a - b
    while d > 90 { d -= 180 }
    while d < -90 { d += 180 }
    return d
}
