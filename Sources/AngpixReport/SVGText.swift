// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Text and number helpers for writing SVG (an XML dialect, W3C SVG 1.1): escaping of character
// data and attribute values, and compact, locale-independent number formatting.

import AngpixCore
import Foundation

/// Escapes text for use as XML character data or inside a double- or single-quoted attribute.
///
/// `&`, `<`, `>`, `"` and `'` become entities; characters XML 1.0 forbids (most C0 controls,
/// lone surrogates cannot occur in Swift strings, U+FFFE/U+FFFF) are dropped, so the result is
/// always well-formed.
public func escapeXML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
        default:
            let v = scalar.value
            if v < 0x20 || v == 0xFFFE || v == 0xFFFF { continue }
            out.unicodeScalars.append(scalar)
        }
    }
    return out
}

/// Formats a coordinate for SVG: at most two decimals, no exponent, no trailing zeros.
func svgNumber(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let rounded = (value * 100).rounded() / 100
    if rounded == rounded.rounded() && abs(rounded) < 1e15 { return String(Int(rounded)) }
    let s = formatTrimmed(rounded, decimals: 2)
    return s == "-0" ? "0" : s
}

/// Formats a tick label with `decimals` decimals (no exponent for ordinary plot ranges).
func tickLabel(_ value: Double, decimals: Int) -> String {
    let v = abs(value) < 1e-12 ? 0 : value
    if abs(v) >= 1e6 || (abs(v) < 1e-4 && v != 0) { return formatSignificant(v, digits: 2) }
    return formatFixed(v, decimals: decimals)
}
