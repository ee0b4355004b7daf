// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The STAR/CIF reader: turns a text into tables (loop_ tables and key-value groups) whose cells
// are byte offsets into the text. Grammar (STAR, Hall 1991; CIF 1.1 as used by the PDB; RELION's
// dialect): `data_NAME` starts a block; `loop_` followed by `_labels` and values is a table;
// `_label value` outside a loop is a key-value pair; `#` starts a comment (so RELION's `_label #3`
// column numbers are comments); values may be quoted with ' or " or be CIF `;` text fields.
//
// Large loops are tokenized line by line (one row per line, as RELION writes and reads them),
// split at line boundaries into one chunk per core. Loops whose rows span lines (mmCIF) are
// tokenized as a stream of values, a row every `columns` values.

import Foundation
import AngpixCore

/// How a range of lines of a loop was read (`readLines`): the rows found, and where and why the
/// reading stopped; `offsets` holds the rows' cell offsets when the lines were tokenized.
struct LineChunk {
    var offsets: STAROffsets? = nil
    var rows = 0
    var base = 0
    /// Offset of the line where the loop ended (a label, data_, loop_ ...), if it ended here.
    var stop: Int?
    /// Position just after the last row's line.
    var lastRowEnd: Int?
    var error: (offset: Int, reason: String)?
    /// A `;` text field was met: the loop must be read as a stream of values.
    var needsStream = false
}

struct STARParser {
    let src: STARSource
    let file: String
    let p: UnsafePointer<UInt8>
    let n: Int
    var pos = 0
    var tables: [STARBlock] = []
    /// Set (to the labels whose type is fixed) to read large line-mode loops straight into typed
    /// columns (`STARTypedFile`); their blocks then hold no rows and the columns are in `typedResults`.
    var typedLoops: [String: STARValueType]? = nil
    /// The only columns such loops convert (nil: all).
    var typedOnly: Set<String>? = nil
    /// The size of the pieces such loops are read in (the first half piece is tokenized).
    var typedPieceBytes = 2 << 20
    /// Typed columns and row counts of such loops, by index of the block.
    var typedResults: [Int: STARColumns] = [:]
    var typedRowCounts: [Int: Int] = [:]
    private var pendingTyped: (columns: STARColumns, rows: Int)? = nil

    init(source: STARSource) {
        src = source
        file = source.name
        p = source.base
        n = source.count
    }

    func fail(_ offset: Int, _ reason: String) -> STARError {
        .syntax(file: file, line: src.line(of: offset), reason: reason)
    }

    // MARK: small scanners

    /// Skips whitespace and comments; stops at a token start or the end.
    mutating func skipBlanks() {
        while pos < n {
            let b = p[pos]
            if isSTARSpace(b) { pos += 1; continue }
            if b == 0x23 { // '#'
                pos = lineEnd(pos)
                continue
            }
            return
        }
    }

    /// The position after the newline ending the line that contains `i` (or the end).
    func lineEnd(_ i: Int) -> Int {
        if i >= n { return n }
        if let hit = memchr(p + i, 0x0A, n - i) {
            return UnsafeRawPointer(hit) - UnsafeRawPointer(p) + 1
        }
        return n
    }

    /// The start of the line that contains `i`.
    func lineStart(_ i: Int) -> Int {
        var j = min(i, n)
        while j > 0 && p[j - 1] != 0x0A { j -= 1 }
        return j
    }

    /// Whether an unquoted token at `i` begins with the reserved word `word` (lower case ASCII).
    func startsWith(_ i: Int, _ word: StaticString) -> Bool {
        let w = word.utf8Start
        let len = word.utf8CodeUnitCount
        if i + len > n { return false }
        for k in 0..<len {
            let c = p[i + k]
            let lower = c >= 0x41 && c <= 0x5A ? c | 0x20 : c
            if lower != w[k] { return false }
        }
        return true
    }

    /// Whether the token at `i` is a reserved word that ends a loop or a block.
    func isReserved(_ i: Int) -> Bool {
        switch p[i] | 0x20 {
        case 0x64: return startsWith(i, "data_")
        case 0x6C: return startsWith(i, "loop_")
        case 0x73: return startsWith(i, "save_") || startsWith(i, "stop_")
        case 0x67: return startsWith(i, "global_")
        default: return false
        }
    }

    /// Checks a value token at `i` for syntax and returns its end.
    func valueEnd(_ i: Int) throws -> Int {
        let b = p[i]
        if b == 0x27 || b == 0x22 {
            var j = i + 1
            while j < n {
                let c = p[j]
                if c == b && (j + 1 == n || isSTARSpace(p[j + 1])) { return j + 1 }
                if c == 0x0A || c == 0x0D { break }
                j += 1
            }
            throw fail(i, "unterminated quote \(b == 0x27 ? "'" : "\"")")
        }
        if b == 0x3B && (i == 0 || p[i - 1] == 0x0A) {
            guard let t = src.textFieldEnd(i) else { throw fail(i, "unterminated ; text field") }
            return t.end
        }
        return unquotedTokenEnd(p, i + 1, n)
    }

    // MARK: document

    mutating func parse() throws -> [STARBlock] {
        if n == 0 { throw STARError.invalid(file: file, line: nil, reason: "empty file, not a STAR file") }
        if memchr(p, 0, min(n, 1 << 16)) != nil {
            throw STARError.invalid(file: file, line: nil, reason: "binary file (NUL bytes), not a STAR file")
        }
        var blockName: String? = nil      // the current data_ block
        var headerPending = false         // a data_ line not yet given to a table
        var headerLine = 0                // start of that data_ line
        var triviaStart = 0               // where the next table's raw text begins
        var tablesInBlock = 0
        // A key-value group being gathered.
        var kvLabels: [String] = []
        var kvOffsets: [Int] = []
        var kvHeader = 0
        var kvEnd = 0

        func makeTable(_ name: String, isLoop: Bool, labels: [String], table: STARTable,
                       header: Int, end: Int, continues: Bool, triviaStart: Int) -> STARBlock {
            let part = STARPart(table: table, rowMap: nil, rowCount: table.rowCount,
                                columns: (0..<labels.count).map { .table($0) })
            let block = STARBlock(name: name, isLoop: isLoop, labels: labels, parts: [part], file: file)
            block.sharesDataBlock = continues
            block.source = src
            block.rawRange = triviaStart ..< end
            block.triviaRange = triviaStart ..< max(triviaStart, header)
            return block
        }

        var out: [STARBlock] = []
        let helper = self
        func flushPairs() {
            let parser = helper
            guard !kvLabels.isEmpty, let name = blockName else { return }
            let base = kvOffsets.min() ?? 0
            let seg = STARSegment(firstRow: 0, rowCount: 1, base: base,
                                  offsets: STAROffsets(kvOffsets.map { UInt32($0 - base) }))
            let table = STARTable(source: parser.src, columnCount: kvLabels.count, segments: [seg])
            let header = headerPending ? headerLine : parser.lineStart(kvHeader)
            out.append(makeTable(name, isLoop: false, labels: kvLabels, table: table, header: header,
                                           end: kvEnd, continues: tablesInBlock > 0, triviaStart: triviaStart))
            headerPending = false
            tablesInBlock += 1
            triviaStart = kvEnd
            kvLabels = []
            kvOffsets = []
        }

        func flushEmptyBlock() {
            let parser = helper
            guard headerPending, let name = blockName else { return }
            let end = parser.lineEnd(headerLine)
            let seg = STARSegment(firstRow: 0, rowCount: 0, base: 0, offsets: [])
            let table = STARTable(source: parser.src, columnCount: 0, segments: [seg])
            out.append(makeTable(name, isLoop: false, labels: [], table: table, header: headerLine,
                                           end: end, continues: false, triviaStart: triviaStart))
            headerPending = false
            triviaStart = end
        }

        while true {
            skipBlanks()
            if pos >= n { break }
            let start = pos
            let b = p[start]
            let quoted = b == 0x27 || b == 0x22
            if !quoted && startsWith(start, "data_") {
                flushPairs()
                flushEmptyBlock()
                let end = try valueEnd(start)
                blockName = src.string(start + 5 ..< end)
                headerPending = true
                headerLine = lineStart(start)
                tablesInBlock = 0
                pos = end
                continue
            }
            guard let name = blockName else {
                throw fail(start, "text before the first data_ block: '\(src.string(start ..< min(n, (try? valueEnd(start)) ?? start + 1)))'")
            }
            if !quoted && startsWith(start, "loop_") {
                flushPairs()
                let header = headerPending ? headerLine : lineStart(start)
                pos = start + 5
                let (labels, table, end) = try parseLoop(loopStart: start)
                if let typed = pendingTyped {
                    typedResults[out.count] = typed.columns
                    typedRowCounts[out.count] = typed.rows
                    pendingTyped = nil
                }
                out.append(makeTable(name, isLoop: true, labels: labels, table: table, header: header,
                                        end: end, continues: tablesInBlock > 0, triviaStart: triviaStart))
                headerPending = false
                tablesInBlock += 1
                triviaStart = end
                continue
            }
            if !quoted && b == 0x5F { // '_label value'
                let labelEnd = try valueEnd(start)
                let label = src.string(start + 1 ..< labelEnd)
                pos = labelEnd
                skipBlanks()
                if pos >= n || (p[pos] == 0x5F) || isReserved(pos) {
                    throw fail(start, "_\(label) has no value")
                }
                if kvLabels.contains(label) {
                    throw fail(start, "label _\(label) appears twice in data_\(name)")
                }
                if kvLabels.isEmpty { kvHeader = start }
                let vEnd = try valueEnd(pos)
                kvLabels.append(label)
                kvOffsets.append(pos)
                kvEnd = lineEnd(vEnd - 1)
                pos = vEnd
                continue
            }
            if !quoted && (startsWith(start, "save_") || startsWith(start, "global_") || startsWith(start, "stop_")) {
                throw fail(start, "save frames and global_ blocks are not supported")
            }
            let end = (try? valueEnd(start)) ?? min(n, start + 1)
            throw fail(start, "value '\(src.string(start ..< min(end, start + 60)))' outside a loop_ or a _label")
        }
        flushPairs()
        flushEmptyBlock()
        tables = out
        if tables.isEmpty {
            if blockName == nil {
                throw STARError.invalid(file: file, line: nil, reason: "no data_ block, not a STAR file")
            }
        }
        // The text after the last table belongs to it.
        if let last = tables.last, let r = last.rawRange { last.rawRange = r.lowerBound ..< n }
        return tables
    }

    // MARK: loops

    /// Reads the labels and rows of a loop whose `loop_` keyword is at `loopStart` (pos is after it).
    mutating func parseLoop(loopStart: Int) throws -> (labels: [String], table: STARTable, end: Int) {
        var labels: [String] = []
        var seen = Set<String>()
        var lastTokenEnd = pos
        while true {
            skipBlanks()
            guard pos < n, p[pos] == 0x5F else { break }
            let end = try valueEnd(pos)
            let label = src.string(pos + 1 ..< end)
            if !seen.insert(label).inserted {
                throw fail(pos, "label _\(label) appears twice in one loop_")
            }
            labels.append(label)
            pos = end
            lastTokenEnd = end
        }
        if labels.isEmpty { throw fail(loopStart, "loop_ without labels") }
        let columns = labels.count
        let dataStart = pos
        // Empty loop?
        if pos >= n || isReserved(pos) {
            let seg = STARSegment(firstRow: 0, rowCount: 0, base: 0, offsets: [])
            return (labels, STARTable(source: src, columnCount: columns, segments: [seg]), lineEnd(lastTokenEnd - 1))
        }
        // Line mode: RELION tables always; others when the first row fills its line exactly.
        let relion = labels.allSatisfy { $0.hasPrefix("rln") }
        let firstLine = lineStart(dataStart)
        if firstLine > lineStart(lastTokenEnd - 1) {
            var lineMode = relion
            if !relion {
                let probe = tokenizeLines(from: firstLine, to: lineEnd(dataStart), columns: columns, reserve: columns)
                lineMode = probe.error == nil && !probe.needsStream && probe.rows == 1
            }
            if lineMode, let fixed = typedLoops,
               let typed = try parseLinesTyped(from: firstLine, labels: labels, strict: relion, fixed: fixed) {
                pendingTyped = (typed.columns, typed.rows)
                let seg = STARSegment(firstRow: 0, rowCount: 0, base: 0, offsets: [])
                return (labels, STARTable(source: src, columnCount: columns, segments: [seg]), typed.end)
            }
            if lineMode, let result = try parseLinesParallel(from: firstLine, columns: columns, strict: relion) {
                return (labels, result.table, result.end)
            }
        }
        let streamed = try parseStream(from: dataStart, columns: columns, labels: labels)
        return (labels, streamed.table, streamed.end)
    }

    /// Line-mode tokenizing of a loop, in parallel for large ones. Nil if it needs stream mode.
    mutating func parseLinesParallel(from start: Int, columns: Int, strict: Bool) throws -> (table: STARTable, end: Int)? {
        // A first, sequential piece: small loops (optics tables) end here.
        let firstEnd = min(n, lineEnd(min(n, start + (1 << 20)) - 1))
        var chunks: [LineChunk] = [tokenizeLines(from: start, to: firstEnd, columns: columns, reserve: 0, strict: strict)]
        if chunks[0].stop == nil && chunks[0].error == nil && !chunks[0].needsStream && firstEnd < n {
            let restBytes = n - firstEnd
            let bytesPerRow = max(16, (firstEnd - start) / max(1, chunks[0].rows))
            let parts = max(Parallelism.jobs, (restBytes >> 30) + 1)
            var bounds: [Int] = [firstEnd]
            for k in 1..<parts {
                let target = firstEnd + restBytes / parts * k
                bounds.append(max(bounds.last!, lineEnd(target)))
            }
            bounds.append(n)
            let k = bounds.count - 1
            let results = UnsafeMutableBufferPointer<LineChunk>.allocate(capacity: k)
            results.initialize(repeating: LineChunk())
            defer { results.deinitialize(); results.deallocate() }
            nonisolated(unsafe) let out = results
            let me = self
            parallelForEach(k) { i in
                let bytes = bounds[i + 1] - bounds[i]
                out[i] = me.tokenizeLines(from: bounds[i], to: bounds[i + 1], columns: columns,
                                          reserve: (bytes / bytesPerRow + bytes / bytesPerRow / 16 + 16) * columns,
                                          strict: strict)
            }
            for i in 0..<k {
                let c = results[i]
                chunks.append(c)
                if c.stop != nil || c.error != nil || c.needsStream { break }
            }
        }
        var segments: [STARSegment] = []
        var rows = 0
        var end = start
        var stop = n
        for c in chunks {
            if let e = c.error { throw fail(e.offset, e.reason) }
            if c.needsStream { return nil }
            if c.rows > 0 {
                segments.append(STARSegment(firstRow: rows, rowCount: c.rows, base: c.base, offsets: c.offsets ?? []))
                rows += c.rows
            }
            if let r = c.lastRowEnd { end = r }
            if let s = c.stop { stop = s; break }
        }
        if segments.isEmpty { segments = [STARSegment(firstRow: 0, rowCount: 0, base: 0, offsets: [])] }
        pos = stop
        if stop == n { end = n }
        return (STARTable(source: src, columnCount: columns, segments: segments), end)
    }

    /// Tokenizes the lines starting in [from, to) as rows of `columns` values.
    func tokenizeLines(from: Int, to: Int, columns: Int, reserve: Int, strict: Bool = true) -> LineChunk {
        // Offsets are written straight into the segment's storage (grown by realloc if the
        // estimate was short, trimmed at the end).
        let store = STAROffsets(capacity: max(reserve, columns * 64))
        var chunk = readLines(from: from, to: to, columns: columns, strict: strict,
                              buffer: { store.reserve(columns); return store.pointer + store.count },
                              take: { _, _ in store.advance(columns); return true })
        store.trim()
        chunk.offsets = store
        return chunk
    }

    /// Reads the lines starting in [from, to) as rows of `columns` values (`scanRow`), giving the
    /// pages read back every 4 MB (see STARSource.releasePages). Each row's start offsets
    /// (relative to `from`) go to `buffer()`; then `take(buffer, row index)` is called, and
    /// reading stops (before counting the row) if it returns false.
    @inline(__always)
    func readLines(from: Int, to: Int, columns: Int, strict: Bool, buffer: () -> UnsafeMutablePointer<UInt32>,
                   take: (UnsafeMutablePointer<UInt32>, Int) -> Bool) -> LineChunk {
        var chunk = LineChunk()
        chunk.base = from
        var i = from
        var released = from
        defer { src.releasePages(released ..< i) }
        while i < to {
            if i - released > (4 << 20) {
                src.releasePages(released ..< i)
                released = i
            }
            let row = buffer()
            switch scanRow(i, from: from, into: row, columns: columns, strict: strict) {
            case .row(let next):
                if !take(row, chunk.rows) { return chunk }
                chunk.rows += 1
                i = next
                chunk.lastRowEnd = next
            case .skip(let next): i = next
            case .end: return chunk
            case .stop: chunk.stop = i; return chunk
            case .needsStream: chunk.needsStream = true; return chunk
            case .error(let offset, let reason): chunk.error = (offset, reason); return chunk
            }
        }
        return chunk
    }

    /// What `scanRow` found on a line.
    enum RowScan {
        /// A row of the table; the next line starts at `next`.
        case row(next: Int)
        /// A blank or comment line.
        case skip(next: Int)
        /// The end of the text.
        case end
        /// A label or reserved word: the loop ends before this line.
        case stop
        /// A `;` text field, or (not strict) a row that does not fill its line: stream mode needed.
        case needsStream
        case error(offset: Int, reason: String)
    }

    /// Reads the line starting at `lineStart` as one row of `columns` values, writing the values'
    /// start offsets (relative to `from`) to `row`. Plain lines take the word-at-a-time path;
    /// anything unusual (quotes, comments, odd bytes) is read byte by byte.
    @inline(__always)
    func scanRow(_ lineStart: Int, from: Int, into row: UnsafeMutablePointer<UInt32>, columns: Int,
                 strict: Bool) -> RowScan {
        let p = self.p
        let n = self.n
        var i = skipLineBlanks(p, lineStart, n)
        if i >= n { return .end }
        let b = p[i]
        if b == 0x0A { return .skip(next: i + 1) }
        if b == 0x23 { return .skip(next: lineEnd(i)) }
        if b == 0x5F { return .stop }
        if b == 0x3B && i == lineStart { return .needsStream }
        if (b | 0x20) >= 0x64 && isReserved(i) {
            if columns == 1 || countTokens(i) < columns { return .stop }
        }
        if let fast = scanPlainLine(p, i, n, from, row, columns), fast.count == columns {
            return .row(next: fast.next)
        }
        var count = 0
        while true {
            if count < columns { row[count] = UInt32(truncatingIfNeeded: i - from) }
            count += 1
            let c = p[i]
            if c == 0x27 || c == 0x22 {
                var j = i + 1
                var closed = false
                while j < n {
                    let d = p[j]
                    if d == c && (j + 1 == n || isSTARSpace(p[j + 1])) { closed = true; break }
                    if d == 0x0A || d == 0x0D { break }
                    j += 1
                }
                if !closed { return .error(offset: i, reason: "unterminated quote \(c == 0x27 ? "'" : "\"")") }
                i = j + 1
            } else {
                i = unquotedTokenEnd(p, i + 1, n)
            }
            i = skipLineBlanks(p, i, n)
            if i >= n { break }
            if p[i] == 0x0A { i += 1; break }
            if p[i] == 0x23 { i = lineEnd(i); break }
        }
        if count != columns {
            if !strict { return .needsStream }
            return .error(offset: lineStart, reason: "row has \(count) value\(count == 1 ? "" : "s"), the table has \(columns) columns")
        }
        return .row(next: i)
    }

    /// The number of tokens on the line from `i` (quotes respected, comment ends the line).
    func countTokens(_ i: Int) -> Int {
        var j = i
        var count = 0
        while j < n {
            while j < n && (p[j] == 0x20 || p[j] == 0x09 || p[j] == 0x0D) { j += 1 }
            if j >= n || p[j] == 0x0A || p[j] == 0x23 { break }
            count += 1
            guard let e = try? valueEnd(j) else { break }
            j = e
        }
        return count
    }

    /// Stream mode: values may span lines; a row every `columns` values.
    mutating func parseStream(from start: Int, columns: Int, labels: [String]) throws -> (table: STARTable, end: Int) {
        pos = start
        var segments: [STARSegment] = []
        var offsets = STAROffsets(capacity: 1024)
        var base = start
        var rowsInSegment = 0
        var firstRow = 0
        var count = 0
        var lastEnd = start
        var rowStart = start
        while true {
            skipBlanks()
            if pos >= n { break }
            let b = p[pos]
            if b == 0x5F || (b != 0x27 && b != 0x22 && isReserved(pos)) { break }
            if count % columns == 0 {
                rowStart = pos
                if pos - base > Int(UInt32.max) - (1 << 24) {
                    segments.append(STARSegment(firstRow: firstRow, rowCount: rowsInSegment, base: base, offsets: offsets))
                    firstRow += rowsInSegment
                    rowsInSegment = 0
                    offsets = STAROffsets(capacity: 1024)
                    base = pos
                }
            }
            let end = try valueEnd(pos)
            offsets.append(UInt32(pos - base))
            count += 1
            if count % columns == 0 { rowsInSegment += 1 }
            lastEnd = end
            pos = end
        }
        if count % columns != 0 {
            let k = count % columns
            throw fail(rowStart, "row has \(k) value\(k == 1 ? "" : "s"), the table has \(columns) columns")
        }
        segments.append(STARSegment(firstRow: firstRow, rowCount: rowsInSegment, base: base, offsets: offsets))
        return (STARTable(source: src, columnCount: columns, segments: segments), lineEnd(max(lastEnd - 1, start)))
    }
}

// MARK: plain lines, sixteen bytes at a time

/// Reads the tokens of the line whose first token starts at `start` when the line is plain:
/// unquoted values separated by blanks, ended by LF. Sixteen bytes at a time are classified with
/// vector compares: "byte > 0x20" (part of a value), and the rare bytes "0x21...0x27" (quotes, `#`
/// and a few signs, which send the line to the byte-wise reader) and "< 0x20" (LF, CR, tab). Blocks
/// without rare bytes only collect value starts (a value byte after a blank); the others, and the
/// last bytes of the text, go through the exact eight-byte step `plainWordStep`. Writes the first
/// `columns` start offsets (relative to `from`) to `row`; returns the position after the LF and
/// the number of values, or nil if the line is not plain or too close to the end of the text.
@inline(__always)
func scanPlainLine(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int, _ from: Int,
                   _ row: UnsafeMutablePointer<UInt32>, _ columns: Int) -> (next: Int, count: Int)? {
    let raw = UnsafeRawPointer(p)
    let high: UInt64 = 0x8080_8080_8080_8080
    var i = start
    var count = 0
    var blankBefore: UInt64 = 0x80      // the byte before `start` counts as a blank
    while i &+ 16 <= n {
        let v = raw.loadUnaligned(fromByteOffset: i, as: SIMD16<UInt8>.self)
        let value = v .> SIMD16<UInt8>(repeating: 0x20)
        let rare = (value .& (v .< SIMD16<UInt8>(repeating: 0x28))) .| (v .< SIMD16<UInt8>(repeating: 0x20))
        let r = unsafeBitCast(rare, to: SIMD2<UInt64>.self)
        if (r[0] | r[1]) != 0 {
            for k in 0..<2 {
                let w = raw.loadUnaligned(fromByteOffset: i &+ 8 &* k, as: UInt64.self)
                let step = plainWordStep(w, i &+ 8 &* k, from, row, columns, &count, &blankBefore)
                if step < 0 { return nil }
                if step > 0 { return (step, count) }
            }
            i &+= 16
            continue
        }
        let m = unsafeBitCast(value, to: SIMD2<UInt64>.self)
        let value0 = m[0] & high, value1 = m[1] & high
        let blank0 = value0 ^ high, blank1 = value1 ^ high
        emitValueStarts(value0 & ((blank0 << 8) | blankBefore), i &- from, row, columns, &count)
        emitValueStarts(value1 & ((blank1 << 8) | (blank0 &>> 56)), i &+ 8 &- from, row, columns, &count)
        blankBefore = blank1 &>> 56
        i &+= 16
    }
    while i &+ 8 <= n {
        let step = plainWordStep(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self), i, from, row, columns, &count, &blankBefore)
        if step < 0 { return nil }
        if step > 0 { return (step, count) }
        i &+= 8
    }
    return nil
}

/// Writes the positions of the set bits (one per byte) of `starts` as offsets from `offset`.
@inline(__always)
func emitValueStarts(_ starts: UInt64, _ offset: Int, _ row: UnsafeMutablePointer<UInt32>, _ columns: Int,
                     _ count: inout Int) {
    var s = starts
    while s != 0 {
        if count < columns { row[count] = UInt32(truncatingIfNeeded: offset &+ (s.trailingZeroBitCount &>> 3)) }
        count &+= 1
        s &= s &- 1
    }
}

/// One 8-byte word `w` at position `i` of a plain line, with exact per-byte SWAR tests that share
/// one masked copy of the word (each byte's low 7 bits plus the constant stay below 0x100, so no
/// carry crosses bytes): value bytes (> 0x20), the signs 0x21...0x27 and, when the word has control
/// bytes, LF. Returns -1 if the line is not plain, 0 to go on, or the position after the LF.
@inline(__always)
func plainWordStep(_ w: UInt64, _ i: Int, _ from: Int, _ row: UnsafeMutablePointer<UInt32>, _ columns: Int,
                   _ count: inout Int, _ blankBefore: inout UInt64) -> Int {
    let high: UInt64 = 0x8080_8080_8080_8080
    let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    let w7 = w & low7
    let value = ((w7 &+ 0x5F5F_5F5F_5F5F_5F5F) | w) & high                    // > 0x20
    let special = ~((w7 &+ 0x5858_5858_5858_5858) | w) & value                 // 0x21...0x27
    let control = ~((w7 &+ 0x6060_6060_6060_6060) | w) & high                  // < 0x20
    let blank = value ^ high
    var starts = value & ((blank << 8) | blankBefore)
    var lf: UInt64 = 0
    if control != 0 {
        let x = w ^ 0x0A0A_0A0A_0A0A_0A0A
        lf = ~(((x & low7) &+ low7) | x) & high                                   // == 0x0A
        lf &= 0 &- lf                   // the first LF only
        if lf != 0 { starts &= lf &- 1 }
    }
    if special & (lf == 0 ? ~0 : lf &- 1) != 0 { return -1 }
    emitValueStarts(starts, i &- from, row, columns, &count)
    if lf != 0 { return i &+ (lf.trailingZeroBitCount &>> 3) &+ 1 }
    blankBefore = blank &>> 56
    return 0
}
