// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The search for the scale s of a map's voxel size (true pixel = s × nominal) that maximises a
// score, with the position refined together with s:
//   1. at s = 1, refine the offset t (diagonal Newton on central differences), optionally a small
//      rotation ω about the model's centroid (the same Newton steps on the rotation vector, in
//      degrees, at most `maxRotation`), and any extra parameter (the overall B of a model map, by
//      golden section);
//   2. coarse scan of s over the range (steps of at most 1 %), t fixed (the model is scaled about
//      its centroid, so the best t hardly depends on s);
//   3. golden-section search between the coarse neighbours of the best point;
//   4. refine B, t (and ω, the first time) again at the best s, and repeat the golden section in a narrower bracket,
//      until s moves by less than 10⁻⁴ (at most three times);
//   5. the curvature of the score at the optimum gives the uncertainty (see `ScaleUncertainty`).

import Foundation
import AngpixCore

/// One point of the score curve.
public struct ScorePoint: Sendable, Codable, Equatable {
    /// Scale of the nominal pixel size.
    public var scale: Double
    /// The trial pixel size (Å).
    public var pixelSize: Double
    /// The correlation at that pixel size.
    public var score: Double
}

/// The uncertainty of the best scale from the curvature of the correlation.
///
/// Treating the map as a scaled copy of the model density plus Gaussian noise, the profile
/// log-likelihood of s is −(N/2)·log(1 − CC(s)²) with N the number of independent samples in the
/// mask, so the variance of s is  σ² = (1 − CC²) / (N · CC · |CC''|)  at the maximum. N is the
/// mask's volume divided by the noise-equivalent volume of the low-pass, 8π^{3/2}σ_G³ with
/// σ_G = √(B/8π²) = 0.187·resolution (white noise filtered to the resolution has that correlation
/// volume), and at most the number of voxels. This is a statistical error only: model errors
/// (bond lengths, a model biased towards the map) are systematic and not included.
public enum ScaleUncertainty {
    /// Independent samples in a mask of `maskVoxels` voxels of `pixelSize` Å, low-passed to `resolution` Å.
    public static func independentSamples(maskVoxels: Double, pixelSize: Double, resolution: Double) -> Double {
        let sigmaG = (4 * log(2.0) * resolution * resolution / (8 * Double.pi * Double.pi)).squareRoot()
        let volume = 8 * pow(Double.pi, 1.5) * sigmaG * sigmaG * sigmaG
        return maskVoxels * min(1, pow(pixelSize, 3) / volume)
    }

    public static func sigma(score: Double, curvature: Double, independentSamples: Double) -> Double {
        guard score > 0, curvature < 0, independentSamples > 0 else { return .infinity }
        return ((1 - score * score) / (independentSamples * score * -curvature)).squareRoot()
    }
}

struct ScaleSearchResult {
    var scale: Double
    var score: Double
    var offset: SIMD3<Double>
    /// The refined rotation vector (degrees); zero when rotation is not refined.
    var rotation: SIMD3<Double>
    var extra: Double
    var curve: [ScorePoint]
    var curvature: Double
    var atEdge: Bool
}

/// Runs the search; `score(s, t, ω, extra)` evaluates; a rotation ω (degrees) is refined when
/// `maxRotation` is given; `extraRange` (if any) is refined by golden section.
func searchScale(range: ClosedRange<Double>, nominalPixel: Double, maxOffset: Double, maxRotation: Double? = nil,
                 extraRange: ClosedRange<Double>?, extraStart: Double,
                 score: (Double, SIMD3<Double>, SIMD3<Double>, Double) -> Double) -> ScaleSearchResult {
    var t = SIMD3<Double>.zero
    var omega = SIMD3<Double>.zero
    var extra = extraStart
    func clampOffset(_ v: SIMD3<Double>) -> SIMD3<Double> {
        pointwiseMin(SIMD3(repeating: maxOffset), pointwiseMax(SIMD3(repeating: -maxOffset), v))
    }
    func clampRotation(_ v: SIMD3<Double>) -> SIMD3<Double> {
        guard let limit = maxRotation else { return .zero }
        let norm = (v * v).sum().squareRoot()
        return norm > limit ? v * (limit / norm) : v
    }
    func refinePosition(at s: Double, rotation: Bool = false) {
        t = clampOffset(refineOffset(t, h: 0.3, maxStep: 1.0, tolerance: 0.03, iterations: 4) {
            score(s, clampOffset($0), omega, extra)
        }.offset)
        guard rotation, maxRotation != nil else { return }
        // Rotation about the centroid hardly moves the best offset, nor the best scale: it is
        // refined at the start and once more at the first fine optimum only.
        omega = clampRotation(refineOffset(omega, h: 0.4, maxStep: 1.5, tolerance: 0.03, iterations: 4) {
            score(s, t, clampRotation($0), extra)
        }.offset)
    }
    func refineExtra(at s: Double) {
        guard let r = extraRange else { return }
        extra = goldenSectionMaximum(r.lowerBound, r.upperBound, tolerance: max(2, 0.02 * (r.upperBound - r.lowerBound))) {
            score(s, t, omega, $0)
        }.best
    }
    let start = min(max(1.0, range.lowerBound), range.upperBound)
    refinePosition(at: start, rotation: true)
    if extraRange != nil {
        refineExtra(at: start)
        refinePosition(at: start)
    }

    // Coarse scan.
    let width = range.upperBound - range.lowerBound
    let steps = max(8, Int((width / 0.01).rounded(.up)))
    let step = width / Double(steps)
    var curve: [ScorePoint] = []
    for i in 0...steps {
        let s = range.lowerBound + Double(i) * step
        curve.append(ScorePoint(scale: s, pixelSize: s * nominalPixel, score: score(s, t, omega, extra)))
    }
    var best = curve.indices.max { curve[$0].score < curve[$1].score }!
    // Fine search in the bracket of the best coarse point's neighbours.
    var lo = curve[max(0, best - 1)].scale, hi = curve[min(curve.count - 1, best + 1)].scale
    var fine = goldenSectionMaximum(lo, hi, tolerance: 1e-5) { score($0, t, omega, extra) }
    // Refine B and the position at the best scale, then search again in a narrower bracket, until
    // the scale moves by less than 10⁻⁴ (B and s are correlated for small models at low resolution).
    for pass in 0..<3 {
        refineExtra(at: fine.best)
        refinePosition(at: fine.best, rotation: pass == 0)
        lo = max(range.lowerBound, fine.best - step / 2)
        hi = min(range.upperBound, fine.best + step / 2)
        let previous = fine.best
        fine = goldenSectionMaximum(lo, hi, tolerance: 2e-5) { score($0, t, omega, extra) }
        if abs(fine.best - previous) < 1e-4 { break }
    }
    // Curvature at the optimum.
    let delta = max(0.002, step / 4)
    let f0 = score(fine.best, t, omega, extra)
    let fp = score(fine.best + delta, t, omega, extra), fm = score(fine.best - delta, t, omega, extra)
    let curvature = (fp + fm - 2 * f0) / (delta * delta)
    let edge = fine.best - range.lowerBound < step / 2 || range.upperBound - fine.best < step / 2
    // The curve: coarse points plus the optimum, sorted.
    curve.append(ScorePoint(scale: fine.best, pixelSize: fine.best * nominalPixel, score: f0))
    curve.sort { $0.scale < $1.scale }
    best = 0
    return ScaleSearchResult(scale: fine.best, score: f0, offset: t, rotation: omega, extra: extra, curve: curve,
                             curvature: curvature, atEdge: edge)
}
