// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the golden-section search (goldenSectionMinimum / goldenSectionMaximum).

import Testing
import AngpixCore

@Test func goldenSectionFindsTheMinimumOfAParabola() {
    var calls = 0
    let r = goldenSectionMinimum(-3, 5, tolerance: 1e-9) { x in calls += 1; return (x - 1.25) * (x - 1.25) + 2 }
    // Near its minimum the parabola is flat to within rounding (|x − 1.25| < 1e-8 gives the same
    // value), so the minimum is found to about 1e-8, not to the bracket width.
    #expect(abs(r.midpoint - 1.25) < 1e-7)
    #expect(abs(r.best - 1.25) < 1e-7)
    #expect(abs(r.bestValue - 2) < 1e-14)
    #expect(r.upper - r.lower <= 1e-9)
    // One new evaluation per step: log(8/1e-9)/log(1/0.618) ≈ 48 steps.
    #expect(calls < 55)
}

@Test func goldenSectionMaximumIsTheMinimumOfTheNegative() {
    let f = { (x: Double) in -(x - 0.3) * (x - 0.3) + 4 }
    let max = goldenSectionMaximum(0, 1, tolerance: 1e-7, f)
    let min = goldenSectionMinimum(0, 1, tolerance: 1e-7) { -f($0) }
    #expect(max.best == min.best && max.lower == min.lower && max.upper == min.upper)
    #expect(max.bestValue == -min.bestValue)
    #expect(abs(max.best - 0.3) < 1e-7 && abs(max.bestValue - 4) < 1e-12)
}

@Test func goldenSectionStopsAtTheIterationLimitAndAtAnEdgeOptimum() {
    // A tolerance that cannot be reached stops after maxIterations steps.
    let r = goldenSectionMinimum(1e6, 1e6 + 1, tolerance: 0, maxIterations: 30) { $0 }
    #expect(r.upper - r.lower > 0)
    // A monotone function ends at the edge of the interval.
    let edge = goldenSectionMaximum(0, 2, tolerance: 1e-6) { $0 }
    #expect(edge.best > 2 - 1e-6)
}
