// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Local refinement of a 3D offset by Newton steps on central differences (the one-dimensional
// golden-section search is AngpixCore's goldenSectionMaximum).

/// Refines a 3D offset by diagonal Newton steps on central differences (step `h`), each step at
/// most `maxStep`, until the step is below `tolerance`; returns the offset and its value.
func refineOffset(_ start: SIMD3<Double>, h: Double, maxStep: Double, tolerance: Double, iterations: Int,
                  _ f: (SIMD3<Double>) -> Double) -> (offset: SIMD3<Double>, value: Double) {
    var t = start
    var f0 = f(t)
    for _ in 0..<iterations {
        var step = SIMD3<Double>.zero
        for axis in 0..<3 {
            var e = SIMD3<Double>.zero
            e[axis] = h
            let fp = f(t + e), fm = f(t - e)
            let g = (fp - fm) / (2 * h)
            let c = (fp + fm - 2 * f0) / (h * h)
            if c < 0 {
                step[axis] = max(-maxStep, min(maxStep, -g / c))
            } else {
                step[axis] = fp > fm ? maxStep : (fm > fp ? -maxStep : 0)
            }
        }
        // Accept the step if it helps; otherwise halve it a few times.
        var accepted = false
        var trial = step
        for _ in 0..<4 {
            let ft = f(t + trial)
            if ft >= f0 {
                t += trial; f0 = ft; accepted = true
                break
            }
            trial *= 0.5
        }
        let length = (trial * trial).sum().squareRoot()
        if !accepted || length < tolerance { break }
    }
    return (t, f0)
}
