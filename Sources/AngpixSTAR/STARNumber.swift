// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Exact decimal-to-binary conversion of STAR values. Digits are gathered into a UInt64 with a
// decimal exponent; when the mantissa fits 53 bits and |exponent| <= 22 one IEEE multiplication or
// division of two exactly representable numbers gives the correctly rounded result (Clinger 1990,
// "How to read floating point numbers accurately"). Every other case (long mantissas, large
// exponents, inf/nan spellings) goes to the C library's strtod on a NUL-terminated copy, which
// is correctly rounded in glibc. So `1.4e-05` and `-2.00000` read exactly as a compiler would.

import Foundation
import AngpixCore

private let exactPowersOfTen: [Double] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]

/// Parses the `count` bytes at `p` as a decimal floating-point number; nil if they are not one.
@inline(__always)
func parseSTARDouble(_ p: UnsafePointer<UInt8>, _ count: Int) -> Double? {
    var i = 0
    var negative = false
    if count == 0 { return nil }
    if p[0] == 0x2D { negative = true; i = 1 } else if p[0] == 0x2B { i = 1 }
    var mantissa: UInt64 = 0
    var digits = 0          // significant digits gathered (leading zeros skipped)
    var sawDigit = false
    var exponent = 0
    var overflow = false
    while i < count {
        let d = p[i] &- 0x30
        if d > 9 { break }
        sawDigit = true
        if digits < 19 {
            if mantissa != 0 || d != 0 { mantissa = mantissa &* 10 &+ UInt64(d); if mantissa != 0 { digits += 1 } }
        } else {
            overflow = true
            exponent += 1
        }
        i += 1
    }
    if i < count && p[i] == 0x2E {
        i += 1
        while i < count {
            let d = p[i] &- 0x30
            if d > 9 { break }
            sawDigit = true
            if digits < 19 {
                if mantissa != 0 || d != 0 { mantissa = mantissa &* 10 &+ UInt64(d); if mantissa != 0 { digits += 1 } }
                exponent -= 1
            } else {
                overflow = true
            }
            i += 1
        }
    }
    if !sawDigit { return slowParseDouble(p, count) }
    if i < count && (p[i] == 0x65 || p[i] == 0x45) {
        i += 1
        var expNegative = false
        if i < count && (p[i] == 0x2D || p[i] == 0x2B) { expNegative = p[i] == 0x2D; i += 1 }
        var e = 0
        var expDigits = 0
        while i < count {
            let d = p[i] &- 0x30
            if d > 9 { break }
            if e < 100_000 { e = e * 10 + Int(d) }
            expDigits += 1
            i += 1
        }
        if expDigits == 0 { return nil }
        exponent += expNegative ? -e : e
    }
    if i != count { return nil }
    if mantissa == 0 { return negative ? -0.0 : 0.0 }
    if !overflow && mantissa <= (1 << 53) && exponent >= -22 && exponent <= 22 {
        var v = Double(mantissa)
        if exponent < 0 { v /= exactPowersOfTen[-exponent] } else { v *= exactPowersOfTen[exponent] }
        return negative ? -v : v
    }
    return slowParseDouble(p, count)
}

/// strtod on a NUL-terminated copy; nil unless all bytes are consumed.
private func slowParseDouble(_ p: UnsafePointer<UInt8>, _ count: Int) -> Double? {
    if count == 0 || count > 400 { return nil }
    return withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { buffer -> Double? in
        let b = buffer.baseAddress!
        for k in 0..<count { b[k] = CChar(bitPattern: p[k]) }
        b[count] = 0
        var end: UnsafeMutablePointer<CChar>? = nil
        let v = strtod(b, &end)
        guard let end, end - b == count else { return nil }
        return v
    }
}

/// Parses the bytes as an integer; a number written with a fraction of zero (`140.000000`) is accepted.
@inline(__always)
func parseSTARInt(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int? {
    var i = 0
    var negative = false
    if count == 0 { return nil }
    if p[0] == 0x2D { negative = true; i = 1 } else if p[0] == 0x2B { i = 1 }
    if i == count { return nil }
    var v = 0
    while i < count {
        let d = p[i] &- 0x30
        if d > 9 { break }
        let (m, o1) = v.multipliedReportingOverflow(by: 10)
        let (s, o2) = m.addingReportingOverflow(Int(d))
        if o1 || o2 { return nil }
        v = s
        i += 1
    }
    if i == count { return negative ? -v : v }
    guard let d = parseSTARDouble(p, count), d.rounded() == d, abs(d) < 9.0e18 else { return nil }
    return Int(d)
}

/// Parses `text` as a STAR floating-point value (exact; see the file header).
public func parseSTARDouble(_ text: String) -> Double? {
    var t = text
    return t.withUTF8 { u in u.baseAddress.flatMap { parseSTARDouble($0, u.count) } }
}

/// Parses `text` as a STAR integer value (`140` or `140.000000`).
public func parseSTARInt(_ text: String) -> Int? {
    var t = text
    return t.withUTF8 { u in u.baseAddress.flatMap { parseSTARInt($0, u.count) } }
}

/// A type a STAR column can be read as, with a fast path that parses a value in place.
protocol STARScalar {
    static var zero: Self { get }
    /// Parses the token starting at `p` (ending at a byte <= 0x20 or at `end`) if it is a plain
    /// number the fast path handles exactly; nil means "use the general path".
    static func parseInPlace(_ p: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> Self?
    static func parse(_ p: UnsafePointer<UInt8>, _ count: Int) -> Self?
    static func parse(_ text: String) -> Self?
    static var expected: String { get }
}

extension Double: STARScalar {
    static var zero: Double { 0 }
    static var expected: String { "a number" }

    @inline(__always)
    static func parseInPlace(_ p: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> Double? {
        if end - p >= 32, let v = parseDecimalWords(p) { return v }
        var q = p
        var negative = false
        if q < end && q.pointee == 0x2D { negative = true; q += 1 }
        var m: UInt64 = 0
        let digitsStart = q
        while q < end {
            let d = q.pointee &- 0x30
            if d > 9 { break }
            m = m &* 10 &+ UInt64(d)
            q += 1
        }
        var nd = q - digitsStart
        var e = 0
        if q < end && q.pointee == 0x2E {
            q += 1
            let f = q
            while q < end {
                let d = q.pointee &- 0x30
                if d > 9 { break }
                m = m &* 10 &+ UInt64(d)
                q += 1
            }
            nd += q - f
            e = f - q
        }
        if q < end && (q.pointee | 0x20) == 0x65 {
            q += 1
            var en = false
            if q < end && (q.pointee == 0x2D || q.pointee == 0x2B) { en = q.pointee == 0x2D; q += 1 }
            let es = q
            var x = 0
            while q < end {
                let d = q.pointee &- 0x30
                if d > 9 { break }
                x = x &* 10 &+ Int(d)
                q += 1
            }
            let ed = q - es
            if ed == 0 || ed > 4 { return nil }
            e += en ? -x : x
        }
        if q < end && q.pointee > 0x20 { return nil }
        if nd == 0 || nd > 19 || m > (1 << 53) || e < -22 || e > 22 { return nil }
        var v = Double(m)
        if e < 0 { v /= exactPowersOfTen[-e] } else if e > 0 { v *= exactPowersOfTen[e] }
        return negative ? -v : v
    }

    static func parse(_ p: UnsafePointer<UInt8>, _ count: Int) -> Double? { parseSTARDouble(p, count) }
    static func parse(_ text: String) -> Double? { parseSTARDouble(text) }
}

extension Int: STARScalar {
    static var zero: Int { 0 }
    static var expected: String { "an integer" }

    @inline(__always)
    static func parseInPlace(_ p: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> Int? {
        if end - p >= 16 {
            // Up to 8 digits read as one word (see `leadingDigits`).
            let negative = p.pointee == 0x2D
            let q = negative ? p + 1 : p
            let (k, digits) = leadingDigits(q)
            if k > 0 && k < 8 && q[k] <= 0x20 {
                let v = Int(eightDigitValue(digits, k))
                return negative ? -v : v
            }
        }
        var q = p
        var negative = false
        if q < end && q.pointee == 0x2D { negative = true; q += 1 }
        var v = 0
        let s = q
        while q < end {
            let d = q.pointee &- 0x30
            if d > 9 { break }
            v = v &* 10 &+ Int(d)
            q += 1
        }
        let nd = q - s
        if nd == 0 || nd > 18 { return nil }
        if q < end && q.pointee > 0x20 { return nil }
        return negative ? -v : v
    }

    static func parse(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int? { parseSTARInt(p, count) }
    static func parse(_ text: String) -> Int? { parseSTARInt(text) }
}


// MARK: eight digits at a time
// A plain decimal such as `-12.493348` or `1.190786e+05` (what RELION writes) is read as whole
// 8-byte words: the digits' count comes from a SWAR "byte is not a digit" test and their value from
// three multiply-and-shift steps (pairs, quads, the whole word). Anything else (more than 8 digits on
// either side of the point, no digits, an unusual exponent) returns nil for the byte-wise path.

/// The number of leading decimal digits in the 8 bytes at `p` (0...8) and the word with '0'
/// removed from each byte.
@inline(__always)
func leadingDigits(_ p: UnsafePointer<UInt8>) -> (count: Int, word: UInt64) {
    let x = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self) ^ 0x3030_3030_3030_3030
    // A byte's high bit is set if it is > 9 after removing '0' (carries only move upwards, so the
    // lowest flagged byte is exact).
    let flags = ((x &+ 0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080
    return (flags.trailingZeroBitCount >> 3, x)
}

/// The value of the first `k` (1...8) digit bytes of `word` (first digit in the lowest byte).
@inline(__always)
func eightDigitValue(_ word: UInt64, _ k: Int) -> UInt64 {
    var x = word &<< UInt64(64 &- 8 &* k)   // the k digits in the top bytes, zeros below
    x = (x &* 10) &+ (x >> 8)
    x = ((x & 0x00FF_00FF_00FF_00FF) &* (100 << 16 + 1)) >> 16
    x = ((x & 0x0000_FFFF_0000_FFFF) &* (10000 << 32 + 1)) >> 32
    return x
}

/// The fast path of `Double.parseInPlace` (needs 32 readable bytes at `p`).
@inline(__always)
private func parseDecimalWords(_ p: UnsafePointer<UInt8>) -> Double? {
    let negative = p.pointee == 0x2D
    var q = p + (negative ? 1 : 0)
    let (k1, w1) = leadingDigits(q)
    if k1 == 8 { return nil }
    var m: UInt64
    q += k1
    var e = 0
    if q.pointee == 0x2E {
        q += 1
        let (k2, w2) = leadingDigits(q)
        if k2 == 8 || k1 &+ k2 == 0 { return nil }
        if k1 &+ k2 <= 8 {
            // Both parts in one word: the integer digits, then the fraction's.
            let integer = w1 & ((1 &<< UInt64(8 &* k1)) &- 1)
            m = eightDigitValue(integer | (w2 &<< UInt64(8 &* k1)), k1 &+ k2)
        } else {
            m = eightDigitValue(w1, k1) &* exactPowersOfTen64[k2] &+ (k2 > 0 ? eightDigitValue(w2, k2) : 0)
        }
        q += k2
        e = 0 &- k2
    } else {
        if k1 == 0 { return nil }
        m = eightDigitValue(w1, k1)
    }
    if (q.pointee | 0x20) == 0x65 {
        q += 1
        var en = false
        if q.pointee == 0x2D || q.pointee == 0x2B { en = q.pointee == 0x2D; q += 1 }
        let (k3, w3) = leadingDigits(q)
        if k3 == 0 || k3 > 3 { return nil }
        let x = Int(eightDigitValue(w3, k3))
        e &+= en ? 0 &- x : x
        q += k3
    }
    if q.pointee > 0x20 || e < -22 || e > 22 { return nil }
    // m < 10^16 < 2^53: exact, and one correctly rounded operation (Clinger's fast path); the
    // sign is set last (exact).
    var v = Double(Int64(bitPattern: m))
    if e < 0 { v /= exactPowersOfTen[0 &- e] } else if e > 0 { v *= exactPowersOfTen[e] }
    return Double(bitPattern: v.bitPattern | (negative ? 1 << 63 : 0))
}

private let exactPowersOfTen64: [UInt64] = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000]
