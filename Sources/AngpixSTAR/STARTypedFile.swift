// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A STAR file read straight into typed columns, for analysis (what starfile.read gives as data
// frames). Large RELION loops are read in one pass: each line is checked and tokenized and its
// cells converted while they are in cache, written in place into the result arrays; no per-cell
// offsets are kept. The loop is cut into pieces of about 2 MB that the workers take in order; a
// piece's rows go to the index given by the number of lines before it (each worker counts its
// piece's lines and hands the sum on), and blank or comment lines are closed up afterwards.
// Small tables, key-value blocks and loops whose rows span lines go through `STARDocument`'s
// tokenizer and `STARBlock.columns`, so every file `STARDocument` reads is read here, with the
// same errors (file and line).

import AngpixCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How the values of a column are read.
public enum STARValueType: Int, Sendable, Comparable, CustomStringConvertible {
    case int, double, text

    public static func < (a: STARValueType, b: STARValueType) -> Bool { a.rawValue < b.rawValue }

    public var description: String { ["int", "double", "text"][rawValue] }

    /// The narrowest type that holds `value`: int (`140`, `-3`), double (`1.5`, `1e-05`, `140.0`) or text.
    public static func of(_ value: UnsafeBufferPointer<UInt8>) -> STARValueType {
        guard let p = value.baseAddress, value.count > 0 else { return .text }
        if !value.contains(where: { $0 == 0x2E || $0 == 0x65 || $0 == 0x45 }), parseSTARInt(p, value.count) != nil { return .int }
        return parseSTARDouble(p, value.count) != nil ? .double : .text
    }

    /// The narrowest type that holds `value`.
    public static func of(_ value: String) -> STARValueType {
        var v = value
        return v.withUTF8 { of($0) }
    }
}

/// One table of a `STARTypedFile`: its labels and its columns, each read as one type.
public struct STARTypedTable: Sendable {
    /// The block's name without `data_` ("optics", "particles").
    public let name: String
    /// Whether the table is a `loop_` (false: key-value pairs, one row).
    public let isLoop: Bool
    /// Column labels in file order, without the leading underscore.
    public let labels: [String]
    public let rowCount: Int
    /// The values: each label is in exactly one of `doubles`, `ints` or `texts`.
    public let columns: STARColumns

    /// The type label `label` was read as; nil if the table has no such column or it was not read.
    public func type(of label: String) -> STARValueType? {
        if columns.ints[label] != nil { return .int }
        if columns.doubles[label] != nil { return .double }
        return columns.texts[label] != nil ? .text : nil
    }
}

/// A whole STAR file read into typed columns: every column of every table as Int, Double or text
/// (text values are views into the mapped file; a String is made when one is read).
///
/// A column's type is that of its first value (`STARValueType.of`), widened where a later value
/// needs it (int to double to text), unless `types` fixes it; then a value that does not fit is
/// an error naming the file and line. Use `STARDocument` to edit a file and write it back.
public struct STARTypedFile: Sendable {
    /// The tables in file order.
    public let tables: [STARTypedTable]

    /// Reads the file at `path` (memory-mapped). `types` fixes the type of the given labels in
    /// every table; `only`, if given, names the columns to read (the others are still checked as
    /// part of their rows, but not converted). Loops longer than `pieceBytes` are read in one pass,
    /// in pieces of that size (the default suits large files; tests and fuzzing use tiny pieces to
    /// reach every boundary).
    public init(path: String, types: [String: STARValueType] = [:], only: Set<String>? = nil,
                pieceBytes: Int = 2 << 20) throws {
        let mapped = try MappedFile(path: path)
        try self.init(source: STARSource(mapped: mapped, name: path), types: types, only: only, pieceBytes: pieceBytes)
    }

    /// Reads STAR text held in memory; `name` is used in error messages.
    public init(text: String, name: String = "<text>", types: [String: STARValueType] = [:],
                only: Set<String>? = nil, pieceBytes: Int = 2 << 20) throws {
        try self.init(source: STARSource(text: text, name: name), types: types, only: only, pieceBytes: pieceBytes)
    }

    private init(source: STARSource, types: [String: STARValueType], only: Set<String>?, pieceBytes: Int) throws {
        var parser = STARParser(source: source)
        parser.typedLoops = types
        parser.typedOnly = only
        parser.typedPieceBytes = min(max(2, pieceBytes), 1 << 30)   // offsets within a piece are 32-bit
        let blocks = try parser.parse()
        tables = try blocks.enumerated().map { index, block in
            let columns = try parser.typedResults[index] ?? typedColumns(block, types, only)
            return STARTypedTable(name: block.name, isLoop: block.isLoop, labels: block.labels,
                                  rowCount: parser.typedResults[index] == nil ? block.rowCount : parser.typedRowCounts[index]!,
                                  columns: columns)
        }
    }

    /// The first table called `name` (without `data_`).
    public func table(_ name: String) -> STARTypedTable? {
        tables.first { $0.name == name }
    }
}

/// Reads the (selected) columns of a tokenized block as their types (first value, widened on a
/// bad value).
private func typedColumns(_ block: STARBlock, _ fixed: [String: STARValueType], _ only: Set<String>?) throws -> STARColumns {
    var types: [String: STARValueType] = [:]
    for label in block.labels where only?.contains(label) ?? true {
        types[label] = fixed[label] ?? (block.rowCount > 0 ? STARValueType.of(block.string(row: 0, label) ?? "") : .text)
    }
    while true {
        do {
            return try block.columns(doubles: block.labels.filter { types[$0] == .double },
                                     ints: block.labels.filter { types[$0] == .int },
                                     texts: block.labels.filter { types[$0] == .text })
        } catch STARError.badValue(let file, let line, let label, let value, let expected) {
            let wider = max(types[label]!, STARValueType.of(value))
            guard fixed[label] == nil, wider > types[label]! else {
                throw STARError.badValue(file: file, line: line, label: label, value: value, expected: expected)
            }
            types[label] = wider
        }
    }
}

/// What one worker found in its piece of a loop read in one pass.
struct TypedPiece {
    /// The rows read, and where and why reading stopped (no offsets are kept).
    var lines = LineChunk()
    /// Where the piece's rows were stored.
    var firstRow = 0
    /// More rows than the lines counted or than the buffers hold: the loop is read the usual way.
    var overflow = false
    /// The first value of each column that did not fit its type: (row, offset of the value).
    var firstBad: [Int: (row: Int, offset: Int)] = [:]
}

/// Hands out the pieces of a loop in order and passes on where each piece's rows start.
private final class TypedPieceQueue: Sendable {
    let next = Atomic<Int>(0)
    /// Pieces 1..<published know where their rows start.
    let published = Atomic<Int>(1)
    /// The first piece where the loop ended (or that must be read the usual way).
    let stoppedAt = Atomic<Int>(Int.max)
}

extension STARParser {
    /// Reads the rows of a large line-mode loop starting at `start` straight into typed columns;
    /// nil for small loops and for loops that need the tokenizer (text fields), which the caller
    /// then reads as usual. Sets `pos` after the loop as `parseLinesParallel` does.
    mutating func parseLinesTyped(from start: Int, labels: [String], strict: Bool,
                                  fixed: [String: STARValueType]) throws -> (columns: STARColumns, rows: Int, end: Int)? {
        let columns = labels.count
        // A first sequential piece, tokenized: small loops end here and take the usual path.
        let firstEnd = min(n, lineEnd(min(n, start + typedPieceBytes / 2) - 1))
        let first = tokenizeLines(from: start, to: firstEnd, columns: columns, reserve: 0, strict: strict)
        guard first.stop == nil, first.error == nil, !first.needsStream, firstEnd < n, first.rows > 0 else { return nil }
        // The rest in pieces of `typedPieceBytes` (2 MB) ending at line ends. Each piece's rows go
        // after the rows of the pieces before it; its number of lines (an upper bound on its rows,
        // counted just before it is read) is handed on to the next piece (see `readTypedPieces`).
        var bounds = [firstEnd]
        while bounds.last! < n {
            let target = bounds.last! + typedPieceBytes
            bounds.append(target >= n ? n : lineEnd(target - 1))
        }
        // Room for the lines the first half piece predicts, with a margin; a loop with more is read
        // again the usual way.
        let bytesPerRow = max(1, (firstEnd - start) / first.rows)
        let capacity = first.rows + (n - firstEnd) / bytesPerRow + (n - firstEnd) / bytesPerRow / 4 + 1024
        var types = labels.map { label -> STARValueType in
            if let t = fixed[label] { return t }
            let range = src.token(at: first.base + Int(first.offsets![labels.firstIndex(of: label)!])).content
            return STARValueType.of(UnsafeBufferPointer(start: p + range.lowerBound, count: range.count))
        }
        let read = (0..<columns).filter { typedOnly?.contains(labels[$0]) ?? true }
        while true {
            let d = read.filter { types[$0] == .double }, i = read.filter { types[$0] == .int }
            let t = read.filter { types[$0] == .text }
            var sink = STARCellSink()
            sink.doubleColumns = d; sink.intColumns = i; sink.textColumns = t
            var results: [TypedPiece] = []
            var firstBad: (row: Int, column: Int, offset: Int)? = nil
            var rows = 0
            var dArrays: [[Double]] = [], iArrays: [[Int]] = [], tArrays: [[Int]] = []
            dArrays = makeSTARColumnArrays(d.count, capacity: capacity, initial: nil, []) { dOut in
                iArrays = makeSTARColumnArrays(i.count, capacity: capacity, initial: nil, []) { iOut in
                    tArrays = makeSTARColumnArrays(t.count, capacity: capacity, initial: nil, []) { tOut in
                        sink.doubles = dOut; sink.ints = iOut; sink.textStarts = tOut
                        results = readTypedPieces(first, bounds, capacity, sink, columns: columns, strict: strict)
                        // The pieces in file order up to the one where the loop ends.
                        for (k, r) in results.enumerated() {
                            if r.lines.error != nil || r.lines.needsStream || r.overflow { break }
                            for (c, bad) in r.firstBad where firstBad == nil || bad.row < firstBad!.row {
                                firstBad = (bad.row, c, bad.offset)
                            }
                            if r.lines.rows > 0 && r.firstRow != rows {
                                // Blank or comment lines before: close up the gap.
                                for q in dOut { (q + rows).update(from: q + r.firstRow, count: r.lines.rows) }
                                for q in iOut { (q + rows).update(from: q + r.firstRow, count: r.lines.rows) }
                                for q in tOut { (q + rows).update(from: q + r.firstRow, count: r.lines.rows) }
                            }
                            rows += r.lines.rows
                            if r.lines.stop != nil { results.removeLast(results.count - k - 1); break }
                        }
                        return rows
                    }
                    return rows
                }
                return rows
            }
            // Errors and fallbacks, in file order.
            for r in results {
                if let e = r.lines.error { throw fail(e.offset, e.reason) }
                if r.lines.needsStream || r.overflow { return nil }
            }
            if let bad = firstBad {
                let range = src.token(at: bad.offset).content
                let wider = max(types[bad.column], STARValueType.of(UnsafeBufferPointer(start: p + range.lowerBound, count: range.count)))
                if fixed[labels[bad.column]] != nil || wider == types[bad.column] {
                    throw STARError.badValue(file: file, line: src.line(of: bad.offset), label: labels[bad.column],
                                             value: src.string(range),
                                             expected: types[bad.column] == .int ? Int.expected : Double.expected)
                }
                types[bad.column] = wider      // read again with the wider type
                continue
            }
            var result = STARColumns()
            for (j, c) in d.enumerated() { result.doubles[labels[c]] = dArrays[j] }
            for (j, c) in i.enumerated() { result.ints[labels[c]] = iArrays[j] }
            for (j, c) in t.enumerated() { result.texts[labels[c]] = STARTextColumn(source: src, starts: tArrays[j]) }
            var end = start
            var stop = n
            for r in results {
                if let e = r.lines.lastRowEnd { end = e }
                if let s = r.lines.stop { stop = s }
            }
            pos = stop
            if stop == n { end = n }
            return (result, rows, end)
        }
    }

    /// Piece 0: the tokenized first rows, stored from their offsets; piece k > 0: the text between
    /// `bounds[k - 1]` and `bounds[k]`, read line by line. The pieces are taken in order by the
    /// workers; a worker counts its piece's lines, waits until the piece before has published
    /// where its rows start, publishes where the next piece's rows start, then reads its piece
    /// (now in cache) into the buffers. Pieces after one where the loop ended are skipped.
    private func readTypedPieces(_ first: LineChunk, _ bounds: [Int], _ capacity: Int, _ sink: STARCellSink,
                                 columns: Int, strict: Bool) -> [TypedPiece] {
        let count = bounds.count
        var results = [TypedPiece](repeating: TypedPiece(), count: count)
        let starts = UnsafeMutablePointer<Int>.allocate(capacity: count + 1)
        defer { starts.deallocate() }
        starts[1] = first.rows
        let shared = TypedPieceQueue()
        let me = self
        results.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            nonisolated(unsafe) let starts = starts
            parallelForEach(Parallelism.jobs) { _ in
                while true {
                    let k = shared.next.wrappingAdd(1, ordering: .relaxed).oldValue
                    if k >= count { return }
                    var piece = TypedPiece()
                    if k == 0 {
                        piece.lines = first
                        first.offsets!.withUnsafeBufferPointer { o in
                            for r in 0..<first.rows where !sink.store(o.baseAddress! + r * columns, cellBase: first.base, source: me.src, at: r) {
                                me.noteBadCells(&piece, o.baseAddress! + r * columns, cellBase: first.base, row: r, sink)
                            }
                        }
                        out[0] = piece
                        continue
                    }
                    let lines = me.countLines(from: bounds[k - 1], to: bounds[k])
                    var spins = 0
                    while shared.published.load(ordering: .acquiring) < k {
                        spins += 1
                        if spins & 1023 == 0 { sched_yield() }
                    }
                    let firstRow = starts[k]
                    starts[k + 1] = firstRow + lines
                    shared.published.store(k + 1, ordering: .releasing)
                    if k > shared.stoppedAt.load(ordering: .relaxed) { continue }
                    if firstRow + lines > capacity {
                        piece.overflow = true
                    } else {
                        piece = me.readTypedPiece(from: bounds[k - 1], to: bounds[k], firstRow: firstRow,
                                                  lines: lines, sink, columns: columns, strict: strict)
                    }
                    piece.firstRow = firstRow
                    if piece.lines.stop != nil || piece.lines.error != nil || piece.lines.needsStream || piece.overflow {
                        shared.stoppedAt.min(k, ordering: .relaxed)
                    }
                    out[k] = piece
                }
            }
        }
        return results
    }

    /// Reads the lines starting in [from, to) as rows stored from row `firstRow` on (at most
    /// `lines` of them).
    private func readTypedPiece(from: Int, to: Int, firstRow: Int, lines: Int, _ sink: STARCellSink,
                                columns: Int, strict: Bool) -> TypedPiece {
        let row = UnsafeMutablePointer<UInt32>.allocate(capacity: columns)
        defer { row.deallocate() }
        var overflow = false
        var bad: [(row: Int, offsets: [UInt32])] = []     // rows with a value that does not fit (rare)
        var piece = TypedPiece()
        piece.lines = readLines(from: from, to: to, columns: columns, strict: strict, buffer: { row }, take: { row, r in
            if r == lines { overflow = true; return false }
            if !sink.store(row, cellBase: from, source: src, at: firstRow + r) {
                bad.append((firstRow + r, Array(UnsafeBufferPointer(start: row, count: columns))))
            }
            return true
        })
        piece.overflow = overflow
        for b in bad { b.offsets.withUnsafeBufferPointer { noteBadCells(&piece, $0.baseAddress!, cellBase: from, row: b.row, sink) } }
        return piece
    }

    private func noteBadCells(_ piece: inout TypedPiece, _ offsets: UnsafePointer<UInt32>, cellBase: Int, row: Int,
                              _ sink: STARCellSink) {
        for c in sink.badColumns(offsets, cellBase: cellBase, source: src) where piece.firstBad[c] == nil {
            piece.firstBad[c] = (row, cellBase + Int(offsets[c]))
        }
    }

    /// The number of lines starting in [from, to) (a last line without LF counts).
    func countLines(from: Int, to: Int) -> Int {
        var count = 0
        var i = from
        while i < to, let hit = memchr(p + i, 0x0A, to - i) {
            count += 1
            i = UnsafeRawPointer(hit) - UnsafeRawPointer(p) + 1
        }
        return i < to ? count + 1 : count
    }
}
