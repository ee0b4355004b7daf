// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Number formatting shared by every module and the command line: fixed decimals, significant
// digits, exponent notation, and RELION's STAR-file layout. Text written by angpix goes through
// these so that one number is always written the same way.

import Foundation

/// `value` with `decimals` digits after the point (C's `%.<decimals>f`). With `signedZero` false a
/// value that rounds to zero is written without a minus sign ("0.000", not "-0.000").
public func formatFixed(_ value: Double, decimals: Int, signedZero: Bool = true) -> String {
    let d = max(0, decimals)
    let shown = !signedZero && abs(value) < 0.5 * pow(10, -Double(d)) ? 0 : value
    return String(format: "%.\(d)f", shown)
}

/// `formatFixed` of an optional value, `missing` for nil.
public func formatFixed(_ value: Double?, decimals: Int, missing: String) -> String {
    value.map { formatFixed($0, decimals: decimals) } ?? missing
}

/// `value` with at most `decimals` digits after the point, trailing zeros and a trailing point
/// dropped ("1.5", "2", "0.0625").
public func formatTrimmed(_ value: Double, decimals: Int) -> String {
    var s = formatFixed(value, decimals: decimals)
    if s.contains(".") {
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
    }
    return s
}

/// `value` with `digits` significant digits and no trailing zeros (C's `%.<digits>g`: exponent
/// notation for very large or small magnitudes); "nan", "inf" or "-inf" when not finite.
public func formatSignificant(_ value: Double, digits: Int = 6) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    return String(format: "%.\(max(1, digits))g", value)
}

/// `value` in exponent notation with `decimals` digits after the point (C's `%.<decimals>e`).
public func formatScientific(_ value: Double, decimals: Int) -> String {
    String(format: "%.\(max(0, decimals))e", value)
}

/// A number as RELION writes it in STAR files: `%.6f`, or `%.6e` for magnitudes below 0.001
/// (except 0) or from 10⁹ on; right-aligned in `width` characters (0: no padding, RELION's own
/// columns use 12).
public func formatRelionNumber(_ value: Double, width: Int = 0) -> String {
    let a = abs(value)
    let s = a != 0 && (a < 0.001 || a >= 1e9) ? formatScientific(value, decimals: 6) : formatFixed(value, decimals: 6)
    return s.count >= width ? s : String(repeating: " ", count: width - s.count) + s
}
