// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// NumPy .npy files (cryoSPARC's .cs files are .npy files of a structured dtype), memory-mapped.
// Layout as numpy/lib/format.py defines it (NEP 1, "A simple file format for NumPy arrays"):
//   "\x93NUMPY", major version (1, 2 or 3), minor version (0),
//   header length: little-endian uint16 (version 1) or uint32 (versions 2 and 3),
//   header: repr() of a dict {'descr': …, 'fortran_order': bool, 'shape': tuple} padded with spaces
//     and ended by "\n" (latin-1 in versions 1-2, UTF-8 in version 3),
//   then the raw data, C order: count × itemsize bytes.
// A structured descr is a list of (name, type) or (name, type, shape) tuples; the name may be a
// (title, name) tuple; fields are packed one after another in that order (numpy writes padding as
// unnamed '|V' fields), so a field's offset is the sum of the sizes before it, and the itemsize
// their total. Type strings: byte order (<, >, |, =), a kind (b ? i u f c S a U V O M m) and a size
// in bytes (in characters for U, whose characters are 4-byte UCS-4). Object ('O') fields hold
// Python pointers and cannot be read from a file; angpix refuses them. Big-endian fields are read
// by swapping bytes.

import AngpixCore

/// The kind of a field's scalars.
public enum NPYKind: String, Sendable, Codable {
    case bool, int, uint, float, complex, bytes, unicode, void, datetime, timedelta
}

/// One field of a structured dtype (or the single field "" of a plain array).
public struct NPYField: Sendable {
    /// The field's name (nested structured fields are named "outer.inner").
    public var name: String
    /// The numpy type string as written in the header, e.g. "<f4", "|S64".
    public var typeString: String
    public var kind: NPYKind
    /// Whether the scalars are big-endian (only for multi-byte numbers).
    public var bigEndian: Bool
    /// Bytes per scalar (for unicode: 4 × characters; for bytes: the string's length).
    public var scalarSize: Int
    /// The sub-array shape ([] for a scalar field).
    public var shape: [Int]
    /// Offset of the field within a record.
    public var offset: Int

    /// Number of scalars in the field.
    public var count: Int { shape.reduce(1, *) }
    /// Bytes of the field in a record.
    public var size: Int { count * scalarSize }
    /// The type as numpy prints it in a dtype, e.g. "<f4 (2,)".
    public var typeDescription: String {
        shape.isEmpty ? typeString : "\(typeString) (\(shape.map(String.init).joined(separator: ","))\(shape.count == 1 ? "," : ""))"
    }
    /// Whether the field holds numbers that `double(...)` can read.
    public var isNumeric: Bool { kind == .bool || kind == .int || kind == .uint || kind == .float }
}

/// A memory-mapped .npy file of a one-dimensional array (of records, for cryoSPARC .cs files).
public final class NPYFile: @unchecked Sendable {
    public let path: String
    public let version: (major: Int, minor: Int)
    /// The number of records (the array's length).
    public let count: Int
    /// Bytes per record.
    public let itemSize: Int
    /// The fields in order (padding left out); a plain (non-structured) array has one field named "".
    public let fields: [NPYField]
    /// Whether the dtype is structured (a list of named fields).
    public let isStructured: Bool
    /// The header dict as text.
    public let headerText: String
    private let mapped: MappedFile
    /// Offset of the first record in the file.
    public let dataOffset: Int
    private let base: UnsafeRawPointer?
    private let index: [String: Int]

    /// Maps and checks `path`. Errors name the file and what is wrong: not a .npy file, a
    /// truncated file, a header that does not parse, an unknown or object dtype, a shape that is
    /// not one-dimensional.
    public init(path: String) throws {
        self.path = path
        mapped = try MappedFile(path: path)
        let bytes = mapped.bytes
        func fail(_ reason: String) -> CryoSPARCError { .notNPY(file: path, reason: reason) }
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10 else {
            throw bytes.count >= 6 && Array(bytes[0..<6]) == magic ? fail("truncated in the preamble (\(bytes.count) bytes)")
                                                                      : fail("too short (\(bytes.count) bytes) to be one")
        }
        guard Array(bytes[0..<6]) == magic else { throw fail("it does not start with the magic \\x93NUMPY") }
        let major = Int(bytes[6]), minor = Int(bytes[7])
        guard (1...3).contains(major), minor == 0 else { throw fail("format version \(major).\(minor) is unknown (1.0, 2.0, 3.0 are)") }
        version = (major, minor)
        let headerLength: Int, headerStart: Int
        if major == 1 {
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        } else {
            guard bytes.count >= 12 else { throw fail("truncated in the preamble (\(bytes.count) bytes)") }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        }
        guard headerStart + headerLength <= bytes.count else {
            throw fail("truncated: the header is \(headerLength) bytes but the file has only \(bytes.count - headerStart) after the preamble")
        }
        let headerBytes = bytes[headerStart..<(headerStart + headerLength)]
        // Latin-1 (versions 1, 2) maps bytes to the first 256 code points; version 3 is UTF-8.
        let text: String = major == 3 ? String(decoding: headerBytes, as: UTF8.self)
                                      : String(String.UnicodeScalarView(headerBytes.map { Unicode.Scalar($0) }))
        headerText = text.trimmingTrailingWhitespace
        dataOffset = headerStart + headerLength
        let header: PythonLiteral
        do { header = try PythonLiteral.parse(text) } catch {
            throw CryoSPARCError.badHeader(file: path, reason: "the dict does not parse (\(error))")
        }
        guard case .dict(let pairs) = header else {
            throw CryoSPARCError.badHeader(file: path, reason: "expected a dict, found \(header.kind)")
        }
        let keys = Set(pairs.compactMap { if case .string(let s) = $0.key { return s } else { return nil } })
        guard keys == ["descr", "fortran_order", "shape"], pairs.count == 3 else {
            throw CryoSPARCError.badHeader(file: path, reason: "the dict must have exactly the keys 'descr', 'fortran_order', 'shape' (it has \(pairs.map { "\($0.key)" }.joined(separator: ", ")))")
        }
        guard case .bool(let fortran) = header["fortran_order"]! else {
            throw CryoSPARCError.badHeader(file: path, reason: "'fortran_order' must be True or False")
        }
        guard case .tuple(let dims) = header["shape"]! else {
            throw CryoSPARCError.badHeader(file: path, reason: "'shape' must be a tuple, found \(header["shape"]!.kind)")
        }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let n) = d, n >= 0 else { throw CryoSPARCError.badHeader(file: path, reason: "'shape' must hold non-negative integers") }
            shape.append(n)
        }
        guard shape.count == 1 else {
            throw CryoSPARCError.badHeader(file: path, reason: "shape \(shape) is not one-dimensional (a .cs file is a 1-D array of records)\(fortran ? "" : "")")
        }
        count = shape[0]
        var fields: [NPYField] = []
        let descr = header["descr"]!
        switch descr {
        case .string(let t):
            isStructured = false
            fields.append(try NPYFile.scalarField(name: "", type: t, shape: [], offset: 0, file: path))
            itemSize = fields[0].size
        case .list(let items):
            isStructured = true
            itemSize = try NPYFile.structured(items, prefix: "", offset: 0, into: &fields, file: path)
        default:
            throw CryoSPARCError.badHeader(file: path, reason: "'descr' must be a type string or a list of fields, found \(descr.kind)")
        }
        self.fields = fields
        var index: [String: Int] = [:]
        for (i, f) in fields.enumerated() {
            if index[f.name] != nil { throw CryoSPARCError.badHeader(file: path, reason: "field '\(f.name)' appears twice") }
            index[f.name] = i
        }
        self.index = index
        let (need, overflow) = count.multipliedReportingOverflow(by: itemSize)
        guard !overflow else { throw fail("the array's size overflows") }
        let available = bytes.count - (headerStart + headerLength)
        if available < need {
            throw fail("truncated: \(count) records of \(itemSize) bytes need \(need) bytes of data, the file has \(available) (about \(itemSize > 0 ? available / itemSize : 0) whole records)")
        }
        if available > need {
            throw fail("\(available - need) bytes after the \(count) records of \(itemSize) bytes (a corrupt or concatenated file)")
        }
        let start = dataOffset
        base = bytes.baseAddress.map { UnsafeRawPointer($0) + start }
    }

    /// Parses a structured descr list; returns the itemsize.
    private static func structured(_ items: [PythonLiteral], prefix: String, offset: Int,
                                   into fields: inout [NPYField], file: String) throws -> Int {
        var at = offset
        for item in items {
            guard case .tuple(let t) = item, t.count == 2 || t.count == 3 else {
                throw CryoSPARCError.badHeader(file: file, reason: "a field of 'descr' must be a (name, type) or (name, type, shape) tuple, found \(item.kind)")
            }
            var name: String
            switch t[0] {
            case .string(let s): name = s
            case .tuple(let pair) where pair.count == 2:
                guard case .string(let s) = pair[1] else { fallthrough }
                name = s
            default: throw CryoSPARCError.badHeader(file: file, reason: "a field name must be a string or a (title, name) tuple")
            }
            var shape: [Int] = []
            if t.count == 3 {
                switch t[2] {
                case .int(let n): shape = [n]
                case .tuple(let ds):
                    for d in ds {
                        guard case .int(let n) = d else { throw CryoSPARCError.badHeader(file: file, reason: "field '\(name)': the shape must hold integers") }
                        shape.append(n)
                    }
                default: throw CryoSPARCError.badHeader(file: file, reason: "field '\(name)': the shape must be an integer or a tuple")
                }
                if shape.contains(where: { $0 < 0 }) { throw CryoSPARCError.badHeader(file: file, reason: "field '\(name)': negative shape") }
            }
            let full = prefix.isEmpty ? name : prefix + "." + name
            switch t[1] {
            case .string(let type):
                let f = try scalarField(name: full, type: type, shape: shape, offset: at, file: file)
                // Unnamed void fields are padding (numpy writes them so for gaps between fields).
                if !(name.isEmpty && f.kind == .void) {
                    if name.isEmpty { throw CryoSPARCError.badHeader(file: file, reason: "a field of type \(type) has no name") }
                    fields.append(f)
                }
                at += f.size
            case .list(let nested):
                guard shape.isEmpty || shape.reduce(1, *) == 1 else {
                    throw CryoSPARCError.unsupportedType(file: file, field: full, reason: "sub-arrays of structured types are not supported")
                }
                at = try structured(nested, prefix: full, offset: at, into: &fields, file: file)
            default:
                throw CryoSPARCError.badHeader(file: file, reason: "field '\(full)': the type must be a type string or a list")
            }
        }
        return at - offset
    }

    /// Parses one numpy type string such as "<f4", "|S64", "<U32", "|V8", "<M8[ns]".
    static func scalarField(name: String, type: String, shape: [Int], offset: Int, file: String) throws -> NPYField {
        var s = Substring(type)
        let label = name.isEmpty ? "<array>" : name
        var big = false
        if let c = s.first, "<>|=".contains(c) {
            big = c == ">"
            s = s.dropFirst()
        }
        guard let k = s.first else { throw CryoSPARCError.unsupportedType(file: file, field: label, reason: "empty type string") }
        s = s.dropFirst()
        if k == "O" {
            throw CryoSPARCError.unsupportedType(file: file, field: label, reason: "Python object field ('\(type)'): an object array stores pointers, not data, and cannot be read outside Python; save it with fixed-width strings (e.g. numpy's astype('S') / cryosparc-tools Dataset.save)")
        }
        var digits = s
        var unit = ""
        if let bracket = s.firstIndex(of: "[") {
            digits = s[..<bracket]
            unit = String(s[bracket...])
        }
        let n: Int
        if digits.isEmpty {
            guard k == "?" else { throw CryoSPARCError.unsupportedType(file: file, field: label, reason: "type '\(type)' has no size") }
            n = 1
        } else {
            guard let v = Int(digits), v >= 0 else { throw CryoSPARCError.unsupportedType(file: file, field: label, reason: "type '\(type)' is not a numpy type string") }
            n = v
        }
        let kind: NPYKind, size: Int
        switch k {
        case "b" where n == 1, "?": kind = .bool; size = 1
        case "i" where [1, 2, 4, 8].contains(n): kind = .int; size = n
        case "u" where [1, 2, 4, 8].contains(n): kind = .uint; size = n
        case "f" where [4, 8].contains(n): kind = .float; size = n
        case "f" where n == 2:
            throw CryoSPARCError.unsupportedType(file: file, field: label, reason: "half-precision floats ('\(type)') are not supported")
        case "c" where [8, 16].contains(n): kind = .complex; size = n
        case "S", "a": kind = .bytes; size = n
        case "U": kind = .unicode; size = 4 * n
        case "V": kind = .void; size = n
        case "M" where n == 8: kind = .datetime; size = 8
        case "m" where n == 8: kind = .timedelta; size = 8
        default:
            throw CryoSPARCError.unsupportedType(file: file, field: label, reason: "unknown or unsupported numpy type '\(type)'")
        }
        if !unit.isEmpty && kind != .datetime && kind != .timedelta {
            throw CryoSPARCError.unsupportedType(file: file, field: label, reason: "unknown numpy type '\(type)'")
        }
        return NPYField(name: name, typeString: type, kind: kind, bigEndian: big && size > 1 && kind != .bytes && kind != .void,
                        scalarSize: size, shape: shape, offset: offset)
    }

    /// The field called `name`, if any.
    public func field(_ name: String) -> NPYField? { index[name].map { fields[$0] } }

    /// The bytes of record `row`.
    @inline(__always) func record(_ row: Int) -> UnsafeRawPointer { base! + row * itemSize }

    @inline(__always) func load<T: FixedWidthInteger>(_ p: UnsafeRawPointer, _: T.Type, big: Bool) -> T {
        let v = p.loadUnaligned(as: T.self)
        return big ? T(bigEndian: v) : T(littleEndian: v)
    }

    /// Scalar number `element` of a numeric field in record `row`, as a Double (complex: the real part).
    @inline(__always) public func double(_ f: NPYField, row: Int, element: Int = 0) -> Double {
        let p = record(row) + f.offset + element * f.scalarSize
        switch (f.kind, f.scalarSize) {
        case (.float, 4): return Double(Float(bitPattern: load(p, UInt32.self, big: f.bigEndian)))
        case (.float, 8): return Double(bitPattern: load(p, UInt64.self, big: f.bigEndian))
        case (.complex, 8): return Double(Float(bitPattern: load(p, UInt32.self, big: f.bigEndian)))
        case (.complex, 16): return Double(bitPattern: load(p, UInt64.self, big: f.bigEndian))
        case (.uint, 1), (.bool, 1): return Double(p.load(as: UInt8.self))
        case (.uint, 2): return Double(load(p, UInt16.self, big: f.bigEndian))
        case (.uint, 4): return Double(load(p, UInt32.self, big: f.bigEndian))
        case (.uint, 8): return Double(load(p, UInt64.self, big: f.bigEndian))
        case (.int, 1): return Double(p.load(as: Int8.self))
        case (.int, 2): return Double(load(p, Int16.self, big: f.bigEndian))
        case (.int, 4): return Double(load(p, Int32.self, big: f.bigEndian))
        case (.int, 8), (.datetime, 8), (.timedelta, 8): return Double(load(p, Int64.self, big: f.bigEndian))
        default: return .nan
        }
    }

    /// A number as the decimal it was typed as: a float32 value is read as the shortest decimal
    /// that rounds to it (2.7 for the float32 2.70000005, 1.06 for 1.05999994), other numbers as
    /// they are. Used for optics values (pixel size, voltage, Cs, Q0, aberrations), which users
    /// enter as decimals and which must compare equal to the same decimals in RELION files.
    public func decimal(_ f: NPYField, row: Int, element: Int = 0) -> Double {
        let d = double(f, row: row, element: element)
        guard (f.kind == .float || f.kind == .complex) && f.scalarSize == (f.kind == .float ? 4 : 8), d.isFinite else { return d }
        return Double(Float(d).description) ?? d
    }

    /// The raw bits of a 32-bit float field (for exact comparisons), or of a number as Float.
    @inline(__always) public func floatBits(_ f: NPYField, row: Int, element: Int = 0) -> UInt32 {
        if f.kind == .float && f.scalarSize == 4 {
            return load(record(row) + f.offset + element * 4, UInt32.self, big: f.bigEndian)
        }
        return Float(double(f, row: row, element: element)).bitPattern
    }

    /// An integer field's value (unsigned 64-bit fields as their bit pattern).
    @inline(__always) public func uint64(_ f: NPYField, row: Int, element: Int = 0) -> UInt64 {
        let p = record(row) + f.offset + element * f.scalarSize
        switch (f.kind, f.scalarSize) {
        case (.uint, 8), (.int, 8): return load(p, UInt64.self, big: f.bigEndian)
        case (.uint, 4): return UInt64(load(p, UInt32.self, big: f.bigEndian))
        case (.int, 4): return UInt64(bitPattern: Int64(load(p, Int32.self, big: f.bigEndian)))
        case (.uint, 2): return UInt64(load(p, UInt16.self, big: f.bigEndian))
        case (.int, 2): return UInt64(bitPattern: Int64(load(p, Int16.self, big: f.bigEndian)))
        case (.uint, 1), (.bool, 1): return UInt64(p.load(as: UInt8.self))
        case (.int, 1): return UInt64(bitPattern: Int64(p.load(as: Int8.self)))
        default:
            let d = double(f, row: row, element: element)
            return d.isFinite && d >= 0 && d < 1.8e19 ? UInt64(d) : 0
        }
    }

    /// The bytes of a `|S` field without its trailing NULs (numpy's reading), or nil for other kinds.
    @inline(__always) public func bytes(_ f: NPYField, row: Int) -> UnsafeRawBufferPointer? {
        guard f.kind == .bytes else { return nil }
        let p = record(row) + f.offset
        var n = f.scalarSize
        while n > 0 && p.load(fromByteOffset: n - 1, as: UInt8.self) == 0 { n -= 1 }
        return UnsafeRawBufferPointer(start: p, count: n)
    }

    /// A string field (`|S` as UTF-8, `<U` as UCS-4) without trailing NULs; numbers as text.
    public func string(_ f: NPYField, row: Int) -> String {
        switch f.kind {
        case .bytes:
            return String(decoding: bytes(f, row: row)!, as: UTF8.self)
        case .unicode:
            let p = record(row) + f.offset
            var n = f.scalarSize / 4
            while n > 0 && load(p + 4 * (n - 1), UInt32.self, big: f.bigEndian) == 0 { n -= 1 }
            var s = String.UnicodeScalarView()
            for i in 0..<n {
                s.append(Unicode.Scalar(load(p + 4 * i, UInt32.self, big: f.bigEndian)) ?? "\u{FFFD}")
            }
            return String(s)
        default:
            return f.isNumeric ? "\(double(f, row: row))" : ""
        }
    }

    /// Whether a string field is stored as `|S` bytes or `<U` unicode (the field's text kind).
    public func isText(_ f: NPYField) -> Bool { f.kind == .bytes || f.kind == .unicode }
}

extension String {
    var trimmingTrailingWhitespace: String {
        var s = Substring(self)
        while let c = s.last, c == " " || c == "\n" || c == "\t" || c == "\r" { s = s.dropLast() }
        return String(s)
    }
}
