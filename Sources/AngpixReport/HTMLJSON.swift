// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A small JSON reader (RFC 8259) for the report builder. Unlike Foundation's JSONSerialization
// it keeps the order of an object's keys as written (so a summary reads in the order its writer
// chose), keeps each number's text, and tells booleans from numbers on every platform.

import Foundation

/// A JSON value with object keys in file order.
public indirect enum HTMLJSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number: its value and its text as written.
    case number(Double, String)
    case string(String)
    case array([HTMLJSONValue])
    case object([HTMLJSONMember])

    /// The value of `key` in an object, or nil.
    public subscript(key: String) -> HTMLJSONValue? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    /// The text of a string value, or nil.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Whether the value is a string, number, boolean or null.
    public var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }
}

/// One key and value of a JSON object.
public struct HTMLJSONMember: Sendable, Equatable {
    public var key: String
    public var value: HTMLJSONValue
    public init(_ key: String, _ value: HTMLJSONValue) {
        self.key = key
        self.value = value
    }
}

/// Why a JSON text could not be read: the byte offset and the reason.
public struct HTMLJSONError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "at byte \(offset): \(reason)" }
}

/// Parses JSON text (UTF-8).
public func parseHTMLJSON(_ data: Data) throws -> HTMLJSONValue {
    var parser = HTMLJSONParser(bytes: [UInt8](data))
    parser.skipSpace()
    let value = try parser.value(depth: 0)
    parser.skipSpace()
    if parser.pos != parser.bytes.count { throw parser.fail("unexpected text after the JSON value") }
    return value
}

struct HTMLJSONParser {
    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ reason: String) -> HTMLJSONError { HTMLJSONError(offset: pos, reason: reason) }

    mutating func skipSpace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    mutating func expect(_ literal: String) throws {
        let l = Array(literal.utf8)
        guard pos + l.count <= bytes.count, Array(bytes[pos..<pos + l.count]) == l else {
            throw fail("expected \(literal)")
        }
        pos += l.count
    }

    mutating func value(depth: Int) throws -> HTMLJSONValue {
        guard depth < 200 else { throw fail("nested too deeply") }
        guard pos < bytes.count else { throw fail("unexpected end of the text") }
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var members: [HTMLJSONMember] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            while true {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a key in quotes") }
                let key = try string()
                skipSpace()
                try expect(":")
                skipSpace()
                members.append(HTMLJSONMember(key, try value(depth: depth + 1)))
                skipSpace()
                guard pos < bytes.count else { throw fail("unterminated object") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
                throw fail("expected , or }")
            }
        case UInt8(ascii: "["):
            pos += 1
            var items: [HTMLJSONValue] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard pos < bytes.count else { throw fail("unterminated array") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                throw fail("expected , or ]")
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default:
            let start = pos
            while pos < bytes.count, "+-0123456789.eE".utf8.contains(bytes[pos]) { pos += 1 }
            let text = String(decoding: bytes[start..<pos], as: UTF8.self)
            // printJSON writes non-finite numbers as the strings "nan"/"inf"; a bare token is an error.
            guard !text.isEmpty, let v = Double(text) else { pos = start; throw fail("unexpected character") }
            return .number(v, text)
        }
    }

    mutating func string() throws -> String {
        pos += 1  // opening quote
        var out: [UInt8] = []
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { pos += 1; return String(decoding: out, as: UTF8.self) }
            if b == UInt8(ascii: "\\") {
                pos += 1
                guard pos < bytes.count else { break }
                let e = bytes[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var code = try hex4()
                    if (0xD800..<0xDC00).contains(code), pos + 1 < bytes.count,
                       bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        pos += 2
                        let low = try hex4()
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: out.append(e)  // \" \\ \/
                }
                continue
            }
            out.append(b)
            pos += 1
        }
        throw fail("unterminated string")
    }

    mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16) else {
            throw fail("bad \\u escape")
        }
        pos += 4
        return v
    }
}
