// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// One-dimensional golden-section search (Kiefer 1953) on a bracketing interval, for minima and
// maxima of unimodal functions: the fine search of a scale or B-factor after a coarse scan, and
// one-parameter refinements in the CTF fits.

/// The outcome of a golden-section search: the last bracket and the best point evaluated.
public struct GoldenSectionResult: Sendable, Equatable {
    /// The final bracket's lower and upper ends.
    public var lower: Double, upper: Double
    /// The evaluated point with the best value (lowest for a minimum, highest for a maximum).
    public var best: Double
    /// The function's value at `best`.
    public var bestValue: Double
    /// The centre of the final bracket.
    public var midpoint: Double { (lower + upper) / 2 }
}

/// Minimises `f` on [a, b] by golden-section search until the bracket is at most `tolerance`
/// wide (or after `maxIterations` steps). When the two inner points have equal values the
/// bracket keeps the lower one.
public func goldenSectionMinimum(_ a: Double, _ b: Double, tolerance: Double, maxIterations: Int = 200,
                                 _ f: (Double) -> Double) -> GoldenSectionResult {
    let ratio = (5.0.squareRoot() - 1) / 2
    var lo = a, hi = b
    var x1 = hi - ratio * (hi - lo), x2 = lo + ratio * (hi - lo)
    var f1 = f(x1), f2 = f(x2)
    var best = f1 <= f2 ? (x1, f1) : (x2, f2)
    var iterations = 0
    while hi - lo > tolerance && iterations < maxIterations {
        if f1 <= f2 {
            hi = x2; x2 = x1; f2 = f1
            x1 = hi - ratio * (hi - lo); f1 = f(x1)
            if f1 < best.1 { best = (x1, f1) }
        } else {
            lo = x1; x1 = x2; f1 = f2
            x2 = lo + ratio * (hi - lo); f2 = f(x2)
            if f2 < best.1 { best = (x2, f2) }
        }
        iterations += 1
    }
    return GoldenSectionResult(lower: lo, upper: hi, best: best.0, bestValue: best.1)
}

/// Maximises `f` on [a, b] by golden-section search (the minimum of −f); see `goldenSectionMinimum`.
public func goldenSectionMaximum(_ a: Double, _ b: Double, tolerance: Double, maxIterations: Int = 200,
                                 _ f: (Double) -> Double) -> GoldenSectionResult {
    var r = goldenSectionMinimum(a, b, tolerance: tolerance, maxIterations: maxIterations) { -f($0) }
    r.bestValue = -r.bestValue
    return r
}
