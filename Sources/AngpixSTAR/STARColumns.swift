// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
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
        /// Where each row's value token starts in the source (the one-pass typed reader).
        case starts(STARSource, [Int])
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

    init(source: STARSource, starts: [Int]) {
        storage = .starts(source, starts)
        count = starts.count
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(row: Int) -> String {
        switch storage {
        case .table(let t, let c): return t.string(row, c)
        case .values(let v): return v[row]
        case .starts(let src, let s): return src.string(src.token(at: s[row]).content)
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
        case .starts(let src, let s):
            let r = src.token(at: s[row]).content
            return try body(UnsafeBufferPointer(start: src.base + r.lowerBound, count: r.count))
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
        var sink = STARCellSink()
        sink.doubleColumns = doubles.map(tableColumn)
        sink.intColumns = ints.map(tableColumn)
        sink.stringColumns = strings.map(tableColumn)
        // The result arrays are filled in place by the workers (no second copy of the values; the
        // pages are first touched by the thread that fills them).
        var dArrays: [[Double]] = [], iArrays: [[Int]] = [], sArrays: [[String]] = []
        var badCell: (row: Int, column: Int)? = nil
        if n == 0 {
            dArrays = doubles.map { _ in [] }; iArrays = ints.map { _ in [] }; sArrays = strings.map { _ in [] }
        } else {
            // Fresh arrays (huge pages asked for) that the workers fill in place.
            dArrays = makeSTARColumnArrays(doubles.count, capacity: n, initial: nil, []) { dOut in
                iArrays = makeSTARColumnArrays(ints.count, capacity: n, initial: nil, []) { iOut in
                    sArrays = makeSTARColumnArrays(strings.count, capacity: n, initial: "", []) { sOut in
                        sink.doubles = dOut; sink.ints = iOut; sink.strings = sOut
                        badCell = fillColumns(table, n, sink)
                        return n
                    }
                    return n
                }
                return n
            }
        }
        if let firstBad = badCell {
            let label = labels[parts[0].columns.firstIndex { if case .table(let c) = $0 { return c == firstBad.column } else { return false } } ?? 0]
            throw STARError.badValue(file: file, line: table.line(firstBad.row, firstBad.column), label: label,
                                     value: table.string(firstBad.row, firstBad.column),
                                     expected: sink.intColumns.contains(firstBad.column) ? Int.expected : Double.expected)
        }
        for (j, l) in doubles.enumerated() { result.doubles[l] = dArrays[j] }
        for (j, l) in ints.enumerated() { result.ints[l] = iArrays[j] }
        for (j, l) in strings.enumerated() { result.strings[l] = sArrays[j] }
        return result
    }

    /// Parses the cells of the sink's table columns into its buffers (parallel over row ranges);
    /// returns the first bad cell (row, table column), if any.
    private func fillColumns(_ table: STARTable, _ n: Int, _ sink: STARCellSink) -> (row: Int, column: Int)? {
        var items: [(segment: Int, rows: Range<Int>)] = []
        let jobs = n >= 16384 ? Parallelism.jobs : 1
        for (si, seg) in table.segments.enumerated() where seg.rowCount > 0 {
            for r in splitRange(seg.rowCount, into: max(1, (jobs * 4 * seg.rowCount + n - 1) / max(1, n))) { items.append((si, r)) }
        }
        // First bad cell per item: (row, table column).
        var bad = [(row: Int, column: Int)?](repeating: nil, count: items.count)
        let src = table.source
        let columns = table.columnCount
        bad.withUnsafeMutableBufferPointer { badBuffer in
            nonisolated(unsafe) let badOut = badBuffer
            parallelForEach(items.count) { k in
                let item = items[k]
                let seg = table.segments[item.segment]
                let first = seg.firstRow
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
                        if !sink.store(row, cellBase: seg.base, source: src, at: first + r) {
                            badOut[k] = (first + r, sink.badColumns(row, cellBase: seg.base, source: src)[0])
                            return
                        }
                    }
                }
            }
        }
        return bad.compactMap({ $0 }).min(by: { $0.row < $1.row })
    }
}

/// The output buffers of a one-pass read of several columns: for each type, the table columns
/// read as that type and the buffers their cells go to (row r at index r).
struct STARCellSink: @unchecked Sendable {
    var doubleColumns: [Int] = [], doubles: [UnsafeMutablePointer<Double>] = []
    var intColumns: [Int] = [], ints: [UnsafeMutablePointer<Int>] = []
    /// Text columns kept as the offsets where their tokens start.
    var textColumns: [Int] = [], textStarts: [UnsafeMutablePointer<Int>] = []
    var stringColumns: [Int] = [], strings: [UnsafeMutablePointer<String>] = []

    /// Stores the cells of one row, whose cell c starts at `cellBase + offsets[c]` in `source`, at
    /// index `r` of the buffers. False if a cell is not a number of its column's type (the row is
    /// then only partly stored; `badColumns` says which cells).
    @inline(__always)
    func store(_ offsets: UnsafePointer<UInt32>, cellBase: Int, source src: STARSource, at r: Int) -> Bool {
        let base = src.base
        guard storeNumbers(doubleColumns, doubles, offsets, cellBase, src, r),
              storeNumbers(intColumns, ints, offsets, cellBase, src, r) else { return false }
        for (j, c) in textColumns.enumerated() { textStarts[j][r] = cellBase + Int(offsets[c]) }
        for (j, c) in stringColumns.enumerated() {
            let range = src.token(at: cellBase + Int(offsets[c])).content
            strings[j][r] = String(decoding: UnsafeBufferPointer(start: base + range.lowerBound, count: range.count), as: UTF8.self)
        }
        return true
    }

    /// Parses the cells of `columns` as numbers into element `r` of `out`: the in-place fast path,
    /// else the general parser on the token's content; false at the first cell that is not one.
    @inline(__always)
    private func storeNumbers<T: STARScalar>(_ columns: [Int], _ out: [UnsafeMutablePointer<T>], _ offsets: UnsafePointer<UInt32>,
                                             _ cellBase: Int, _ src: STARSource, _ r: Int) -> Bool {
        let base = src.base
        let end = base + src.count
        for (j, c) in columns.enumerated() {
            let cell = base + cellBase + Int(offsets[c])
            if let v = T.parseInPlace(cell, end) { out[j][r] = v; continue }
            let range = src.token(at: cell - base).content
            guard let v = T.parse(base + range.lowerBound, range.count) else { return false }
            out[j][r] = v
        }
        return true
    }

    /// The table columns of a row that `store` could not read as their type, in column order.
    func badColumns(_ offsets: UnsafePointer<UInt32>, cellBase: Int, source src: STARSource) -> [Int] {
        func text(_ c: Int) -> UnsafeBufferPointer<UInt8> {
            let range = src.token(at: cellBase + Int(offsets[c])).content
            return UnsafeBufferPointer(start: src.base + range.lowerBound, count: range.count)
        }
        let bad = doubleColumns.filter { c in let t = text(c); return parseSTARDouble(t.baseAddress!, t.count) == nil } +
            intColumns.filter { c in let t = text(c); return parseSTARInt(t.baseAddress!, t.count) == nil }
        return bad.sorted()
    }
}

/// `count` arrays with room for `capacity` elements whose storage is handed to `body` before they
/// are returned; `body` returns how many elements it wrote (the arrays' count). With `initial` nil
/// the elements are left for `body` to write (trivial types only).
func makeSTARColumnArrays<T>(_ count: Int, capacity: Int, initial: T?, _ pointers: [UnsafeMutablePointer<T>],
                             _ body: ([UnsafeMutablePointer<T>]) throws -> Int) rethrows -> [[T]] {
    if count == 0 { _ = try body(pointers); return [] }
    var rest: [[T]] = []
    let first = try [T](unsafeUninitializedCapacity: max(capacity, 1)) { buffer, initialized in
        let p = buffer.baseAddress!
        MemoryAdvice.preferHugePages(UnsafeMutableRawPointer(p), byteCount: capacity * MemoryLayout<T>.stride)
        if let initial { p.initialize(repeating: initial, count: capacity) }
        var written = 0
        rest = try makeSTARColumnArrays(count - 1, capacity: capacity, initial: initial, pointers + [p]) { all in
            written = try body(all)
            return written
        }
        if initial != nil && written < capacity { (p + written).deinitialize(count: capacity - written) }
        initialized = written
    }
    return [first] + rest
}
