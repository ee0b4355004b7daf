// The STAR writer. An unchanged table is copied byte for byte from the text it was read from
// (with the comments and blank lines before it). A changed table is written in RELION's layout
// (`data_name`, `loop_`, `_label #n`, one row per line, columns right-aligned to a common width,
// a blank line after the table); cells that were not changed keep their exact original text,
// quotes included, and new values are quoted only where STAR requires it.

import AngpixCore

/// A growable byte buffer for formatting (no per-append bounds bookkeeping beyond capacity).
struct ByteBuffer {
    var base: UnsafeMutablePointer<UInt8>
    var count = 0
    var capacity: Int

    init(capacity: Int = 1 << 16) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
    }

    func free() { base.deallocate() }

    @inline(__always) mutating func reserve(_ extra: Int) {
        if count + extra <= capacity { return }
        var c = capacity * 2
        while c < count + extra { c *= 2 }
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        b.update(from: base, count: count)
        base.deallocate()
        base = b
        capacity = c
    }

    @inline(__always) mutating func append(_ p: UnsafePointer<UInt8>, _ n: Int) {
        reserve(n)
        (base + count).update(from: p, count: n)
        count += n
    }

    @inline(__always) mutating func append(byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always) mutating func appendSpaces(_ n: Int) {
        guard n > 0 else { return }
        reserve(n)
        (base + count).update(repeating: 0x20, count: n)
        count += n
    }

    mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { u in if let b = u.baseAddress { append(b, u.count) } }
    }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// Where serialized bytes go: a file being written atomically, or memory.
protocol STARSink {
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws
}

struct FileSink: STARSink {
    let writer: AtomicFileWriter
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws { try writer.write(bytes) }
}

struct MemorySink: STARSink {
    var data: [UInt8] = []
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws { data.append(contentsOf: bytes) }
}

/// The text of a value as it must be written (quoted where STAR requires it).
func quotedSTARValue(_ value: String) -> String {
    if value.isEmpty { return "\"\"" }
    var needs = false
    let u = value.utf8
    if let f = u.first, f == 0x5F || f == 0x23 || f == 0x27 || f == 0x22 || f == 0x3B || f == 0x24 || f == 0x5B {
        needs = f != 0x5B || !value.hasSuffix("]")   // RELION vectors "[a,b,c]" are written bare
        if f == 0x5B && value.contains(" ") { needs = true }
    }
    if !needs { for b in u where b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { needs = true; break } }
    if !needs {
        let lower = value.lowercased()
        for w in ["data_", "loop_", "save_", "global_", "stop_"] where lower.hasPrefix(w) { needs = true; break }
    }
    if !needs { return value }
    return value.contains("\"") ? "'\(value)'" : "\"\(value)\""
}

/// The cells of a part that are plain table cells, located with values hoisted out of the row loop.
struct TableCells {
    /// The table column of each column of the part that is `.table`, else -1.
    let tableColumn: [Int]
    let table: STARTable?
    let source: STARSource?
    let rowMap: [Int]?
    let base: UnsafePointer<UInt8>

    init(_ part: STARPart) {
        table = part.table
        source = part.table?.source
        rowMap = part.rowMap
        base = part.table?.source.base ?? UnsafePointer(bitPattern: 1)!
        tableColumn = part.columns.map { data in
            if case .table(let c) = data, part.table != nil { return c }
            return -1
        }
    }

    /// The whole token (with quotes) of cell (row of the part, table column), as `STARTable.rawToken`.
    @inline(__always)
    func rawToken(_ row: Int, _ column: Int) -> Range<Int> {
        let start = table.unsafelyUnwrapped.cellStart(rowMap?[row] ?? row, column)
        return start ..< source.unsafelyUnwrapped.token(at: start).end
    }
}

enum STARWriter {
    static let defaultTrivia = "\n# version 30001\n\n"

    static func write<S: STARSink>(_ blocks: [STARBlock], to sink: inout S) throws {
        for block in blocks {
            if let raw = block.rawRange, let src = block.source {
                try sink.write(src.bytes(raw))
            } else {
                try writeFormatted(block, to: &sink)
            }
        }
    }

    /// Appends the written form of cell (row of part, column data), without padding.
    @inline(__always)
    static func appendCell(_ part: STARPart, _ row: Int, _ data: STARColumnData, _ out: inout ByteBuffer) {
        switch data {
        case .table(let c):
            let t = part.table!
            let r = t.rawToken(part.tableRow(row), c)
            out.append(t.source.base + r.lowerBound, r.count)
        case .values(let v): out.append(quotedSTARValue(v[row]))
        case .constant(let s): out.append(quotedSTARValue(s))
        case .mapped(let base, let map):
            if case .table(let c) = base {
                let t = part.table!
                let content = t.content(part.tableRow(row), c)
                if let repl = STARBlock.lookup(map, t.source.string(content)) { out.append(quotedSTARValue(repl)); return }
                appendCell(part, row, base, &out)
            } else {
                let text = STARBlock.text(part, row, base)
                out.append(quotedSTARValue(STARBlock.lookup(map, text) ?? text))
            }
        }
    }

    /// The written width of a cell.
    @inline(__always)
    static func cellWidth(_ part: STARPart, _ row: Int, _ data: STARColumnData) -> Int {
        switch data {
        case .table(let c): return part.table!.rawToken(part.tableRow(row), c).count
        case .values(let v): return quotedSTARValue(v[row]).utf8.count
        case .constant(let s): return quotedSTARValue(s).utf8.count
        case .mapped:
            var b = ByteBuffer(capacity: 64)
            defer { b.free() }
            appendCell(part, row, data, &b)
            return b.count
        }
    }

    static func writeFormatted<S: STARSink>(_ block: STARBlock, to sink: inout S) throws {
        var head = ByteBuffer()
        defer { head.free() }
        if let t = block.triviaRange, let src = block.source, !t.isEmpty {
            let b = src.bytes(t)
            head.append(b.baseAddress!.assumingMemoryBound(to: UInt8.self), b.count)
        } else if !block.sharesDataBlock {
            head.append(defaultTrivia)
        }
        if !block.sharesDataBlock { head.append("data_\(block.name)\n\n") }
        let labels = block.labels
        if !block.isLoop {
            let width = labels.map { $0.utf8.count + 1 }.max() ?? 0
            for (i, l) in labels.enumerated() {
                head.append("_" + l)
                head.appendSpaces(width - l.utf8.count - 1 + 4)
                if block.rowCount > 0 {
                    let (p, r) = block.locate(0)
                    appendCell(block.parts[p], r, block.parts[p].columns[i], &head)
                }
                head.append(byte: 0x0A)
            }
            head.append(byte: 0x0A)
            try sink.write(head.bytes)
            return
        }
        let relion = labels.allSatisfy { $0.hasPrefix("rln") }
        head.append(relion ? "loop_ \n" : "loop_\n")
        for (i, l) in labels.enumerated() { head.append(relion ? "_\(l) #\(i + 1) \n" : "_\(l)\n") }
        try sink.write(head.bytes)
        let columns = labels.count
        // Column widths (parallel over row ranges of each part).
        var widths = [Int](repeating: 0, count: columns)
        for part in block.parts where part.rowCount > 0 {
            let ranges = splitRange(part.rowCount, into: part.rowCount >= 16384 ? Parallelism.jobs : 1)
            var partial = [[Int]](repeating: [Int](repeating: 0, count: columns), count: ranges.count)
            partial.withUnsafeMutableBufferPointer { buf in
                nonisolated(unsafe) let out = buf
                parallelForEach(ranges.count) { k in
                    // Row by row (the text is row-major, so each row is read once while in cache).
                    var w = [Int](repeating: 0, count: columns)
                    var varying: [Int] = []
                    for c in 0..<columns {
                        if case .constant(let s) = part.columns[c] { w[c] = quotedSTARValue(s).utf8.count } else { varying.append(c) }
                    }
                    // Cells copied from the table are measured without going through the
                    // column enum (whose per-cell copies cost a retain/release each).
                    let fast = TableCells(part)
                    for r in ranges[k] {
                        for c in varying {
                            let tc = fast.tableColumn[c]
                            let width = tc >= 0 ? fast.rawToken(r, tc).count : cellWidth(part, r, part.columns[c])
                            w[c] = max(w[c], width)
                        }
                    }
                    out[k] = w
                }
            }
            for w in partial { for c in 0..<columns { widths[c] = max(widths[c], w[c]) } }
        }
        // Rows, formatted in parallel batches and written in order.
        let jobs = Parallelism.jobs
        for part in block.parts where part.rowCount > 0 {
            let batch = 16384
            var start = 0
            while start < part.rowCount {
                let end = min(part.rowCount, start + batch * jobs)
                let ranges = splitRange(end - start, into: (end - start) >= 4096 ? jobs : 1).map {
                    ($0.lowerBound + start) ..< ($0.upperBound + start)
                }
                let buffers = UnsafeMutableBufferPointer<ByteBuffer>.allocate(capacity: ranges.count)
                nonisolated(unsafe) let out = buffers
                parallelForEach(ranges.count) { k in
                    var b = ByteBuffer(capacity: ranges[k].count * (widths.reduce(0, +) + columns + 2) + 64)
                    var cell = ByteBuffer(capacity: 256)
                    let fast = TableCells(part)
                    for r in ranges[k] {
                        for c in 0..<columns {
                            let tc = fast.tableColumn[c]
                            if tc >= 0 {
                                let token = fast.rawToken(r, tc)
                                b.appendSpaces(widths[c] - token.count + (c == 0 ? 0 : 1))
                                b.append(fast.base + token.lowerBound, token.count)
                                continue
                            }
                            cell.count = 0
                            appendCell(part, r, part.columns[c], &cell)
                            b.appendSpaces(widths[c] - cell.count + (c == 0 ? 0 : 1))
                            b.append(cell.base, cell.count)
                        }
                        b.append(byte: 0x0A)
                    }
                    cell.free()
                    (out.baseAddress! + k).initialize(to: b)
                }
                var failure: Error? = nil
                for k in 0..<ranges.count {
                    if failure == nil {
                        do { try sink.write(buffers[k].bytes) } catch { failure = error }
                    }
                    buffers[k].free()
                }
                buffers.deallocate()
                if let failure { throw failure }
                start = end
            }
        }
        var tail = ByteBuffer(capacity: 8)
        defer { tail.free() }
        tail.append(byte: 0x0A)
        try sink.write(tail.bytes)
    }
}
