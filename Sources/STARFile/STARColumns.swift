// Reading many columns of a large table in one pass over its rows. The text is row-major, so
// reading 26 columns one after another would stream the whole file through the cache 26 times;
// here each row is visited once and every requested cell of it is parsed while it is in cache.

import AngpixCore

/// Typed columns read together by `STARBlock.columns(doubles:ints:strings:)`.
public struct STARColumns: Sendable {
    public var doubles: [String: [Double]] = [:]
    public var ints: [String: [Int]] = [:]
    public var strings: [String: [String]] = [:]
}

extension STARBlock {
    /// Reads the given columns in one pass over the rows (parallel for large tables). Errors as
    /// for `doubles(_:)`: the first bad value's file and line.
    public func columns(doubles: [String] = [], ints: [String] = [], strings: [String] = []) throws -> STARColumns {
        var result = STARColumns()
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
        let dOut = doubles.map { _ in UnsafeMutablePointer<Double>.allocate(capacity: max(n, 1)) }
        let iOut = ints.map { _ in UnsafeMutablePointer<Int>.allocate(capacity: max(n, 1)) }
        let sOut = strings.map { _ in UnsafeMutablePointer<String>.allocate(capacity: max(n, 1)) }
        for s in sOut { s.initialize(repeating: "", count: max(n, 1)) }
        var released = false
        func release() {
            guard !released else { return }
            released = true
            for d in dOut { d.deallocate() }
            for i in iOut { i.deallocate() }
            for s in sOut { s.deinitialize(count: max(n, 1)); s.deallocate() }
        }
        defer { release() }
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
                    for r in item.rows {
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
        if let firstBad = bad.compactMap({ $0 }).min(by: { $0.row < $1.row }) {
            let label = labels[parts[0].columns.firstIndex { if case .table(let c) = $0 { return c == firstBad.column } else { return false } } ?? 0]
            throw STARError.badValue(file: file, line: table.line(firstBad.row, firstBad.column), label: label,
                                     value: table.string(firstBad.row, firstBad.column), expected: firstBad.expected)
        }
        // Move the values into arrays one column at a time, freeing each buffer as it is copied.
        released = true
        for (j, l) in doubles.enumerated() {
            result.doubles[l] = Array(UnsafeBufferPointer(start: dOut[j], count: n)); dOut[j].deallocate()
        }
        for (j, l) in ints.enumerated() {
            result.ints[l] = Array(UnsafeBufferPointer(start: iOut[j], count: n)); iOut[j].deallocate()
        }
        for (j, l) in strings.enumerated() {
            result.strings[l] = Array(UnsafeBufferPointer(start: sOut[j], count: n))
            sOut[j].deinitialize(count: max(n, 1)); sOut[j].deallocate()
        }
        return result
    }
}
