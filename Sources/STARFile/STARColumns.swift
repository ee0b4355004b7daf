// Reading many columns of a large table in one pass over its rows. The text is row-major, so
// reading 26 columns one after another would stream the whole file through the cache 26 times;
// here each row is visited once and every requested cell of it is parsed while it is in cache.

import AngpixCore

/// Typed columns read together by `STARBlock.columns(doubles:ints:texts:strings:)`.
public struct STARColumns: Sendable {
    public var doubles: [String: [Double]] = [:]
    public var ints: [String: [Int]] = [:]
    /// Text columns as views into the file (a String is made when a value is read).
    public var texts: [String: STARTextColumn] = [:]
    /// Text columns as arrays of String (one allocation per value).
    public var strings: [String: [String]] = [:]
}

/// A column of text values (image names, micrograph names...) that refers to the document's bytes
/// instead of holding a String per row, the way columnar formats store text: 1,000,000 names cost
/// no memory beyond the file, and each `String` is made only when it is read.
public struct STARTextColumn: RandomAccessCollection, Sendable {
    private enum Storage: @unchecked Sendable {
        case table(STARTable, Int)
        case values([String])
    }
    private let storage: Storage
    public let count: Int

    init(table: STARTable, column: Int) {
        storage = .table(table, column)
        count = table.rowCount
    }

    init(_ values: [String]) {
        storage = .values(values)
        count = values.count
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(row: Int) -> String {
        switch storage {
        case .table(let t, let c): return t.string(row, c)
        case .values(let v): return v[row]
        }
    }

    /// Calls `body` with the UTF-8 bytes of the value in `row`, without making a String.
    public func withUTF8<R>(row: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        switch storage {
        case .table(let t, let c):
            let r = t.content(row, c)
            return try body(UnsafeBufferPointer(start: t.source.base + r.lowerBound, count: r.count))
        case .values(let v):
            var s = v[row]
            return try s.withUTF8(body)
        }
    }
}

extension STARBlock {
    /// Column `label` as a text view (no String per row until one is read).
    public func texts(_ label: String) throws -> STARTextColumn {
        let c = try requireColumn(label)
        if parts.count == 1, parts[0].rowMap == nil, let table = parts[0].table,
           case .table(let tc) = parts[0].columns[c] {
            return STARTextColumn(table: table, column: tc)
        }
        return STARTextColumn(try strings(label))
    }
}

extension STARBlock {
    /// Reads the given columns in one pass over the rows (parallel for large tables). Errors as
    /// for `doubles(_:)`: the first bad value's file and line. `texts` are views (see
    /// `STARTextColumn`); `strings` are materialised as arrays of String.
    public func columns(doubles: [String] = [], ints: [String] = [], texts: [String] = [],
                        strings: [String] = []) throws -> STARColumns {
        var result = STARColumns()
        for l in texts { result.texts[l] = try self.texts(l) }
        for l in doubles + ints + strings { _ = try requireColumn(l) }
        // Parts that are not plain table columns are read column by column.
        let simple = parts.count == 1 && parts[0].rowMap == nil && parts[0].table != nil &&
            (doubles + ints + strings).allSatisfy { l in
                if case .table = parts[0].columns[labelIndex[l]!] { return true } else { return false }
            }
        guard simple, let table = parts[0].table else {
            for l in doubles { result.doubles[l] = try self.doubles(l) }
            for l in ints { result.ints[l] = try self.ints(l) }
            for l in strings { result.strings[l] = try self.strings(l) }
            return result
        }
        let n = rowCount
        let tableColumn: (String) -> Int = { l in
            if case .table(let c) = self.parts[0].columns[self.labelIndex[l]!] { return c }
            return 0
        }
        let dCols = doubles.map(tableColumn), iCols = ints.map(tableColumn), sCols = strings.map(tableColumn)
        // The result arrays are filled in place by the workers (no second copy of the values; the
        // pages are first touched by the thread that fills them).
        var dArrays: [[Double]] = [], iArrays: [[Int]] = [], sArrays: [[String]] = []
        var badCell: (row: Int, column: Int, expected: String)? = nil
        if n == 0 {
            dArrays = doubles.map { _ in [] }; iArrays = ints.map { _ in [] }; sArrays = strings.map { _ in [] }
        } else {
            // Fresh arrays (huge pages asked for) that the workers fill in place.
            dArrays = makeSTARColumnArrays(doubles.count, n, initial: nil, []) { dOut in
                iArrays = makeSTARColumnArrays(ints.count, n, initial: nil, []) { iOut in
                    sArrays = makeSTARColumnArrays(strings.count, n, initial: "", []) { sOut in
                        badCell = fillColumns(table, n, dCols, iCols, sCols, dOut, iOut, sOut)
                    }
                }
            }
        }
        if let firstBad = badCell {
            let label = labels[parts[0].columns.firstIndex { if case .table(let c) = $0 { return c == firstBad.column } else { return false } } ?? 0]
            throw STARError.badValue(file: file, line: table.line(firstBad.row, firstBad.column), label: label,
                                     value: table.string(firstBad.row, firstBad.column), expected: firstBad.expected)
        }
        for (j, l) in doubles.enumerated() { result.doubles[l] = dArrays[j] }
        for (j, l) in ints.enumerated() { result.ints[l] = iArrays[j] }
        for (j, l) in strings.enumerated() { result.strings[l] = sArrays[j] }
        return result
    }

    /// Parses the cells of the given table columns into the `n`-element buffers (parallel over row
    /// ranges); returns the first bad cell, if any.
    private func fillColumns(_ table: STARTable, _ n: Int, _ dCols: [Int], _ iCols: [Int], _ sCols: [Int],
                             _ dOut: [UnsafeMutablePointer<Double>], _ iOut: [UnsafeMutablePointer<Int>],
                             _ sOut: [UnsafeMutablePointer<String>]) -> (row: Int, column: Int, expected: String)? {
        var items: [(segment: Int, rows: Range<Int>)] = []
        let jobs = n >= 16384 ? Parallelism.jobs : 1
        for (si, seg) in table.segments.enumerated() where seg.rowCount > 0 {
            for r in splitRange(seg.rowCount, into: max(1, (jobs * 4 * seg.rowCount + n - 1) / max(1, n))) { items.append((si, r)) }
        }
        // First bad cell per item: (row, table column, expected).
        var bad = [(row: Int, column: Int, expected: String)?](repeating: nil, count: items.count)
        let src = table.source
        let columns = table.columnCount
        bad.withUnsafeMutableBufferPointer { badBuffer in
            nonisolated(unsafe) let badOut = badBuffer
            nonisolated(unsafe) let dPtr = dOut, iPtr = iOut, sPtr = sOut
            parallelForEach(items.count) { k in
                let item = items[k]
                let base = src.base
                let end = src.base + src.count
                let seg = table.segments[item.segment]
                let first = seg.firstRow
                let segBase = base + seg.base
                seg.offsets.withUnsafeBufferPointer { offs in
                    let o = offs.baseAddress!
                    // Pages of the file already read are given back every few thousand rows, so
                    // the resident memory is the typed columns, not the columns plus the file.
                    var releasedRow = item.rows.lowerBound
                    for r in item.rows {
                        if r - releasedRow == 8192 {
                            src.releasePages(seg.base + Int(o[releasedRow * columns]) ..< seg.base + Int(o[r * columns]))
                            releasedRow = r
                        }
                        let row = o + r * columns
                        for (j, c) in dCols.enumerated() {
                            let cell = segBase + Int(row[c])
                            if let v = Double.parseInPlace(cell, end) { dPtr[j][first + r] = v; continue }
                            let range = src.token(at: cell - base).content
                            guard let v = parseSTARDouble(base + range.lowerBound, range.count) else {
                                badOut[k] = (first + r, c, Double.expected); return
                            }
                            dPtr[j][first + r] = v
                        }
                        for (j, c) in iCols.enumerated() {
                            let cell = segBase + Int(row[c])
                            if let v = Int.parseInPlace(cell, end) { iPtr[j][first + r] = v; continue }
                            let range = src.token(at: cell - base).content
                            guard let v = parseSTARInt(base + range.lowerBound, range.count) else {
                                badOut[k] = (first + r, c, Int.expected); return
                            }
                            iPtr[j][first + r] = v
                        }
                        for (j, c) in sCols.enumerated() {
                            let range = src.token(at: Int(row[c]) + seg.base).content
                            sPtr[j][first + r] = String(decoding: UnsafeBufferPointer(start: base + range.lowerBound, count: range.count), as: UTF8.self)
                        }
                    }
                }
            }
        }
        return bad.compactMap({ $0 }).min(by: { $0.row < $1.row })
    }
}

/// `count` arrays of `n` elements (n > 0) whose storage is handed to `body` before they are returned;
/// with `initial` nil the elements are left for `body` to write (trivial types only).
private func makeSTARColumnArrays<T>(_ count: Int, _ n: Int, initial: T?, _ pointers: [UnsafeMutablePointer<T>],
                                     _ body: ([UnsafeMutablePointer<T>]) -> Void) -> [[T]] {
    if count == 0 { body(pointers); return [] }
    var rest: [[T]] = []
    let first = [T](unsafeUninitializedCapacity: n) { buffer, initialized in
        let p = buffer.baseAddress!
        MemoryAdvice.preferHugePages(UnsafeMutableRawPointer(p), byteCount: n * MemoryLayout<T>.stride)
        if let initial { p.initialize(repeating: initial, count: n) }
        rest = makeSTARColumnArrays(count - 1, n, initial: initial, pointers + [p], body)
        initialized = n
    }
    return [first] + rest
}
