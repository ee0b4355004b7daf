// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A strict parser of the small subset of Python literals that a NumPy .npy header holds: the
// header is `repr()` of a dict such as {'descr': [('uid', '<u8'), ('blob/shape', '<u4', (2,))],
// 'fortran_order': False, 'shape': (1000,), } (NumPy's format.py writes it with
// `repr`, reads it with `ast.literal_eval`; the format is described in NEP 1 / numpy.lib.format).
// Accepted: dicts, lists, tuples, str (single or double quotes, with the usual backslash escapes,
// optional b/u prefix), int, float, True, False, None. Anything else is an error with the offset.

public indirect enum PythonLiteral: Equatable, Sendable {
    case string(String)
    case int(Int)
    case float(Double)
    case bool(Bool)
    case none
    case list([PythonLiteral])
    case tuple([PythonLiteral])
    case dict([(key: PythonLiteral, value: PythonLiteral)])

    public static func == (a: PythonLiteral, b: PythonLiteral) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.none, .none): return true
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)): return x == y
        case (.dict(let x), .dict(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The value of `key` in a dict with string keys.
    public subscript(key: String) -> PythonLiteral? {
        guard case .dict(let pairs) = self else { return nil }
        return pairs.first { $0.key == .string(key) }?.value
    }

    /// A short description of the kind of value, for messages.
    var kind: String {
        switch self {
        case .string: return "a string"
        case .int: return "an integer"
        case .float: return "a float"
        case .bool: return "a boolean"
        case .none: return "None"
        case .list: return "a list"
        case .tuple: return "a tuple"
        case .dict: return "a dict"
        }
    }

    /// Parses `text` completely (surrounding whitespace allowed); throws a reason with the offset.
    public static func parse(_ text: String) throws(PythonLiteralError) -> PythonLiteral {
        var p = Parser(bytes: Array(text.utf8))
        let value = try p.value(depth: 0)
        p.skipSpace()
        if p.i < p.bytes.count { throw p.fail("unexpected text after the literal") }
        return value
    }
}

public struct PythonLiteralError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "at character \(offset): \(reason)" }
}

private struct Parser {
    let bytes: [UInt8]
    var i = 0

    func fail(_ reason: String) -> PythonLiteralError { PythonLiteralError(offset: i, reason: reason) }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x09 || bytes[i] == 0x0D { i += 1 }
    }

    mutating func value(depth: Int) throws(PythonLiteralError) -> PythonLiteral {
        if depth > 64 { throw fail("nested too deeply") }
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of text") }
        let c = bytes[i]
        switch c {
        case UInt8(ascii: "{"):
            i += 1
            var pairs: [(key: PythonLiteral, value: PythonLiteral)] = []
            while true {
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated dict") }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(pairs) }
                let k = try value(depth: depth + 1)
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':' in dict") }
                i += 1
                let v = try value(depth: depth + 1)
                if pairs.contains(where: { $0.key == k }) { throw fail("duplicate dict key") }
                pairs.append((k, v))
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated dict") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .dict(pairs) }
                throw fail("expected ',' or '}' in dict")
            }
        case UInt8(ascii: "["), UInt8(ascii: "("):
            let close = c == UInt8(ascii: "[") ? UInt8(ascii: "]") : UInt8(ascii: ")")
            i += 1
            var items: [PythonLiteral] = []
            var sawComma = false
            while true {
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated \(c == UInt8(ascii: "[") ? "list" : "tuple")") }
                if bytes[i] == close { i += 1; break }
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < bytes.count else { throw fail("unterminated sequence") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; sawComma = true; continue }
                if bytes[i] == close { i += 1; break }
                throw fail("expected ',' or '\(Character(UnicodeScalar(close)))'")
            }
            if close == UInt8(ascii: "]") { return .list(items) }
            // (x) without a comma is just x in Python.
            if items.count == 1 && !sawComma { return items[0] }
            return .tuple(items)
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "b"), UInt8(ascii: "u"):
            if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "'") || bytes[i + 1] == UInt8(ascii: "\"") {
                i += 1
                return .string(try string())
            }
            return try word()
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."):
            return try number()
        default:
            return try word()
        }
    }

    mutating func word() throws(PythonLiteralError) -> PythonLiteral {
        let start = i
        while i < bytes.count, (bytes[i] >= UInt8(ascii: "A") && bytes[i] <= UInt8(ascii: "Z")) ||
                (bytes[i] >= UInt8(ascii: "a") && bytes[i] <= UInt8(ascii: "z")) || bytes[i] == UInt8(ascii: "_") { i += 1 }
        let w = String(decoding: bytes[start..<i], as: UTF8.self)
        switch w {
        case "True": return .bool(true)
        case "False": return .bool(false)
        case "None": return .none
        default:
            i = start
            throw fail(w.isEmpty ? "unexpected character '\(Character(UnicodeScalar(bytes[start])))'" : "'\(w)' is not a Python literal")
        }
    }

    mutating func number() throws(PythonLiteralError) -> PythonLiteral {
        let start = i
        if bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") { i += 1 }
        var isFloat = false
        while i < bytes.count {
            let b = bytes[i]
            if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") { i += 1; continue }
            if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { isFloat = true; i += 1; continue }
            if (b == UInt8(ascii: "-") || b == UInt8(ascii: "+")) && (bytes[i - 1] == UInt8(ascii: "e") || bytes[i - 1] == UInt8(ascii: "E")) { i += 1; continue }
            break
        }
        // Python 2 long suffix, as old headers may hold (e.g. (10L,)).
        var text = String(decoding: bytes[start..<i], as: UTF8.self)
        if i < bytes.count, bytes[i] == UInt8(ascii: "L") { i += 1 }
        if text.hasPrefix("+") { text.removeFirst() }
        if !isFloat, let v = Int(text) { return .int(v) }
        if isFloat, let v = Double(text) { return .float(v) }
        i = start
        throw fail("bad number '\(text)'")
    }

    mutating func string() throws(PythonLiteralError) -> String {
        let quote = bytes[i]
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let b = bytes[i]
            if b == quote { i += 1; break }
            if b == 0x0A { throw fail("newline inside a string") }
            if b == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { throw fail("unterminated string") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "0"): out.append(0)
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
                case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let n = e == UInt8(ascii: "x") ? 2 : (e == UInt8(ascii: "u") ? 4 : 8)
                    guard i + n <= bytes.count, let code = UInt32(String(decoding: bytes[i..<(i + n)], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else { throw fail("bad escape in string") }
                    i += n
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("unknown escape '\\\(Character(UnicodeScalar(e)))' in string")
                }
                continue
            }
            out.append(b)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
