// Exact decimal-to-binary conversion of STAR values. Digits are gathered into a UInt64 with a
// decimal exponent; when the mantissa fits 53 bits and |exponent| <= 22 one IEEE multiplication or
// division of two exactly representable numbers gives the correctly rounded result (Clinger 1990,
// "How to read floating point numbers accurately"). Every other case (long mantissas, large
// exponents, inf/nan spellings) goes to the C library's strtod on a NUL-terminated copy, which
// is correctly rounded in glibc. So `1.4e-05` and `-2.00000` read exactly as a compiler would.

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
