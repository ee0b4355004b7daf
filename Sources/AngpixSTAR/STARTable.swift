// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The tokenized cells of one loop_ table or key-value group: for each cell only the byte offset
// where its token starts, stored as UInt32 relative to the start of a segment (each segment is a
// contiguous run of rows, at most a few GB of text). A value's text is found again on demand by
// re-scanning its token (see STARSource), so no String is made per cell.

import AngpixCore
#if canImport(Glibc)
import Glibc
#endif

/// A run of rows whose cell offsets are relative to `base`.
struct STARSegment: Sendable {
    var firstRow: Int
    var rowCount: Int
    var base: Int
    var offsets: STAROffsets   // rowCount * columnCount
}

/// The cell offsets of a segment in one malloc'ed block: the tokenizer grows it with realloc (which
/// moves pages instead of copying them for large blocks) and trims it when done, so the offsets of a
/// 400 MB file are never copied or held twice.
final class STAROffsets: @unchecked Sendable, ExpressibleByArrayLiteral {
    private(set) var pointer: UnsafeMutablePointer<UInt32>
    private(set) var count: Int
    private var capacity: Int

    /// Empty storage for `capacity` offsets (huge pages asked for when large).
    init(capacity: Int) {
        let c = max(capacity, 16)
        pointer = malloc(c * 4)!.assumingMemoryBound(to: UInt32.self)
        MemoryAdvice.preferHugePages(UnsafeMutableRawPointer(pointer), byteCount: c * 4)
        self.capacity = c
        count = 0
    }

    convenience init<S: Collection>(_ values: S) where S.Element == UInt32 {
        self.init(capacity: values.count)
        for v in values { pointer[count] = v; count += 1 }
    }

    convenience init(arrayLiteral elements: UInt32...) { self.init(elements) }

    deinit { free(pointer) }

    /// Room for `extra` more offsets, growing by doubling.
    @inline(__always)
    func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private func grow(_ needed: Int) {
        var c = capacity
        while c < needed { c *= 2 }
        pointer = realloc(pointer, c * 4)!.assumingMemoryBound(to: UInt32.self)
        capacity = c
    }

    @inline(__always)
    func append(_ v: UInt32) {
        reserve(1)
        pointer[count] = v
        count += 1
    }

    /// Marks `k` offsets written through `pointer + count` as used.
    @inline(__always)
    func advance(_ k: Int) { count += k }

    /// Gives back the unused capacity.
    func trim() {
        if capacity > count + 1024 {
            pointer = realloc(pointer, max(count, 1) * 4)!.assumingMemoryBound(to: UInt32.self)
            capacity = max(count, 1)
        }
    }

    @inline(__always)
    subscript(i: Int) -> UInt32 { pointer[i] }

    @inline(__always)
    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<UInt32>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: pointer, count: count))
    }
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

    /// The offsets of table row `row` (relative to the returned segment base): one segment
    /// lookup for a whole row instead of one per cell.
    @inline(__always)
    func rowOffsets(_ row: Int) -> (offsets: UnsafePointer<UInt32>, base: Int) {
        var k = 0
        if segments.count > 1 {
            var lo = 0, hi = segments.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if segments[mid].firstRow <= row { lo = mid } else { hi = mid - 1 }
            }
            k = lo
        }
        let seg = segments[k]
        return (UnsafePointer(seg.offsets.pointer + (row - seg.firstRow) * columnCount), seg.base)
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
