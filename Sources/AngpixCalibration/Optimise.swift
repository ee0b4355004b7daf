// One-dimensional maximisation by golden-section search (Kiefer 1953), used for the fine search
// of the scale and the overall B-factor after a coarse scan has bracketed the maximum.

/// Maximises `f` on [a, b] to a bracket width of `tolerance`; returns the best point seen and its value.
func goldenSectionMaximum(_ a: Double, _ b: Double, tolerance: Double, _ f: (Double) -> Double) -> (x: Double, value: Double) {
    let ratio = (5.0.squareRoot() - 1) / 2
    var lo = a, hi = b
    var x1 = hi - ratio * (hi - lo), x2 = lo + ratio * (hi - lo)
    var f1 = f(x1), f2 = f(x2)
    var best = f1 >= f2 ? (x1, f1) : (x2, f2)
    while hi - lo > tolerance {
        if f1 >= f2 {
            hi = x2; x2 = x1; f2 = f1
            x1 = hi - ratio * (hi - lo); f1 = f(x1)
            if f1 > best.1 { best = (x1, f1) }
        } else {
            lo = x1; x1 = x2; f1 = f2
            x2 = lo + ratio * (hi - lo); f2 = f(x2)
            if f2 > best.1 { best = (x2, f2) }
        }
    }
    return best
}

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
