// The tokenized cells of one loop_ table or key-value group: for each cell only the byte offset
// where its token starts, stored as UInt32 relative to the start of a segment (each segment is a
// contiguous run of rows, at most a few GB of text). A value's text is found again on demand by
// re-scanning its token (see STARSource), so no String is made per cell.

/// A run of rows whose cell offsets are relative to `base`.
struct STARSegment: Sendable {
    var firstRow: Int
    var rowCount: Int
    var base: Int
    var offsets: ContiguousArray<UInt32>   // rowCount * columnCount
}

/// Immutable tokenized cells of one table in a source text.
final class STARTable: @unchecked Sendable {
    let source: STARSource
    let columnCount: Int
    let rowCount: Int
    let segments: [STARSegment]

    init(source: STARSource, columnCount: Int, segments: [STARSegment]) {
        self.source = source
        self.columnCount = columnCount
        self.segments = segments
        rowCount = segments.reduce(0) { $0 + $1.rowCount }
    }

    /// The absolute byte offset where cell (row, column) starts.
    @inline(__always)
    func cellStart(_ row: Int, _ column: Int) -> Int {
        // Elements are read in place (copying a segment would retain its offsets array per cell).
        if segments.count == 1 {
            return segments[0].base + Int(segments[0].offsets[row * columnCount + column])
        }
        var lo = 0, hi = segments.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if segments[mid].firstRow <= row { lo = mid } else { hi = mid - 1 }
        }
        return segments[lo].base + Int(segments[lo].offsets[(row - segments[lo].firstRow) * columnCount + column])
    }

    /// The content range (without quotes) of a cell.
    @inline(__always)
    func content(_ row: Int, _ column: Int) -> Range<Int> {
        source.token(at: cellStart(row, column)).content
    }

    /// The whole token range (with quotes) of a cell.
    @inline(__always)
    func rawToken(_ row: Int, _ column: Int) -> Range<Int> {
        let start = cellStart(row, column)
        return start ..< source.token(at: start).end
    }

    func string(_ row: Int, _ column: Int) -> String {
        source.string(content(row, column))
    }

    func line(_ row: Int, _ column: Int) -> Int {
        source.line(of: cellStart(row, column))
    }
}
