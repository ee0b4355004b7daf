// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// "Nice" axis ticks (1, 2, 2.5, 5 × 10ⁿ steps), after Heckbert, "Nice numbers for graph labels",
// Graphics Gems (1990), and the tick positions of a resolution axis (frequency in 1/Å, labels in Å).

import AngpixCore
import Foundation

/// Tick positions and labels for one axis.
struct AxisTicks {
    var values: [Double]
    var labels: [String]
}

/// A step of 1, 2, 2.5 or 5 × 10ⁿ close to `rough`.
func niceStep(_ rough: Double) -> Double {
    guard rough > 0, rough.isFinite else { return 1 }
    let exponent = (log10(rough)).rounded(.down)
    let base = pow(10, exponent)
    let fraction = rough / base
    let nice: Double
    if fraction <= 1 { nice = 1 } else if fraction <= 2 { nice = 2 } else if fraction <= 2.5 { nice = 2.5 }
    else if fraction <= 5 { nice = 5 } else { nice = 10 }
    return nice * base
}

/// About `count` evenly spaced ticks covering `lo...hi`, labelled with their values.
func linearTicks(_ lo: Double, _ hi: Double, count: Int = 6) -> AxisTicks {
    let step = niceStep((hi - lo) / Double(max(1, count - 1)))
    let first = (lo / step).rounded(.up) * step
    var values: [Double] = []
    var v = first
    while v <= hi + step * 1e-9 && values.count < 50 {
        values.append(abs(v) < step * 1e-9 ? 0 : v)
        v = first + Double(values.count) * step
    }
    let magnitude = log10(step).rounded(.down)
    let mantissa = step / pow(10, magnitude)
    let decimals = max(0, -Int(magnitude) + (abs(mantissa - 2.5) < 1e-9 ? 1 : 0))
    return AxisTicks(values: values, labels: values.map { tickLabel($0, decimals: decimals) })
}

/// Ticks for an x axis holding spatial frequency (1/Å) but labelled as resolution (Å = 1/x).
/// Positions are nice frequencies; the tick at frequency 0 (infinite resolution) is left out.
func resolutionTicks(_ lo: Double, _ hi: Double, count: Int = 6) -> AxisTicks {
    let base = linearTicks(lo, hi, count: count)
    var values: [Double] = [], labels: [String] = []
    for f in base.values where f > 0 {
        let r = 1 / f
        values.append(f)
        labels.append(formatFixed(r, decimals: r >= 100 ? 0 : 1))
    }
    return AxisTicks(values: values, labels: labels)
}
