// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The STAR writer. An unchanged table is copied byte for byte from the text it was read from
// (with the comments and blank lines before it). A changed table is written in RELION's layout
// (`data_name`, `loop_`, `_label #n`, one row per line, columns right-aligned to a common width,
// a blank line after the table); cells that were not changed keep their exact original text,
// quotes included, and new values are quoted only where STAR requires it.

import AngpixCore
#if canImport(Glibc)
import Glibc
#endif

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

    /// Appends `n` bytes from `p` where at least 16 bytes are readable at `p`: short values (the
    /// usual case) are copied as two 8-byte words instead of through a memmove call.
    @inline(__always) mutating func appendValue(_ p: UnsafePointer<UInt8>, _ n: Int, readable: Int) {
        if n <= 16 && readable >= 16 {
            reserve(16)
            let src = UnsafeRawPointer(p), dst = UnsafeMutableRawPointer(base + count)
            dst.storeBytes(of: src.loadUnaligned(as: UInt64.self), as: UInt64.self)
            dst.storeBytes(of: src.loadUnaligned(fromByteOffset: 8, as: UInt64.self), toByteOffset: 8, as: UInt64.self)
            count += n
        } else {
            append(p, n)
        }
    }

    @inline(__always) mutating func appendSpaces(_ n: Int) {
        guard n > 0 else { return }
        if n <= 16 {
            reserve(16)
            let dst = UnsafeMutableRawPointer(base + count)
            dst.storeBytes(of: 0x2020_2020_2020_2020 as UInt64, as: UInt64.self)
            dst.storeBytes(of: 0x2020_2020_2020_2020 as UInt64, toByteOffset: 8, as: UInt64.self)
            count += n
            return
        }
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

/// Where serialized bytes go: a file being written atomically, or memory. `Failure` is what a
/// write can throw (`Never` for memory, so that writing there needs no `try`).
protocol STARSink {
    associatedtype Failure: Error
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(Failure)
}

struct FileSink: STARSink {
    let writer: AtomicFileWriter
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(any Error) { try writer.write(bytes) }
}

struct MemorySink: STARSink {
    var data: [UInt8] = []
    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(Never) { data.append(contentsOf: bytes) }
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

/// How the cells of one column of a part are written, worked out once per part so that the row
/// loops do no String work for the common edits (a constant column, renumbered optics groups).
enum CellPlan {
    /// The original token of a table column.
    case table(Int)
    /// The same (quoted) bytes in every row.
    case constant([UInt8])
    /// A table column with the values found in a small map replaced.
    case mapped(Int, SmallValueMap)
    /// Anything else (through `STARWriter.appendCell`).
    case general

    init(_ data: STARColumnData, hasTable: Bool) {
        switch data {
        case .table(let c) where hasTable: self = .table(c)
        case .constant(let s): self = .constant(Array(quotedSTARValue(s).utf8))
        case .mapped(.table(let c), let map) where hasTable && map.count <= 32: self = .mapped(c, SmallValueMap(map))
        default: self = .general
        }
    }
}

/// A replacement map of a few entries matched on bytes, with `STARBlock.lookup`'s rule: the exact
/// text first, then an integer by value (`01` matches the key `1`).
struct SmallValueMap {
    let keys: [[UInt8]]
    let intKeys: [Int?]
    let values: [[UInt8]]

    init(_ map: [String: String]) {
        let entries = map.sorted { $0.key < $1.key }
        keys = entries.map { Array($0.key.utf8) }
        intKeys = entries.map { e in Int(e.key).flatMap { String($0) == e.key ? $0 : nil } }
        values = entries.map { Array(quotedSTARValue($0.value).utf8) }
    }

    /// The replacement of the content bytes `p[0..<count]`, if any.
    @inline(__always)
    func replacement(_ p: UnsafePointer<UInt8>, _ count: Int) -> [UInt8]? {
        for (k, key) in keys.enumerated() where key.count == count {
            if key.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p, count) == 0 }) { return values[k] }
        }
        guard let i = parseSTARInt(p, count) else { return nil }
        for (k, key) in intKeys.enumerated() where key == i { return values[k] }
        return nil
    }
}

/// The cells of a part that are plain table cells, located with values hoisted out of the row loop.
struct TableCells {
    let table: STARTable?
    let source: STARSource?
    let rowMap: [Int]?
    let base: UnsafePointer<UInt8>

    init(_ part: STARPart) {
        table = part.table
        source = part.table?.source
        rowMap = part.rowMap
        base = part.table?.source.base ?? UnsafePointer(bitPattern: 1)!
    }

    /// The offsets of a row of the part (see `STARTable.rowOffsets`); only when `table` is set.
    @inline(__always)
    func row(_ row: Int) -> (offsets: UnsafePointer<UInt32>, base: Int) {
        table.unsafelyUnwrapped.rowOffsets(rowMap?[row] ?? row)
    }

    /// The whole token (with quotes) of a table column of a row from `row(_:)`.
    @inline(__always)
    func rawToken(_ row: (offsets: UnsafePointer<UInt32>, base: Int), _ column: Int) -> Range<Int> {
        let start = row.base + Int(row.offsets[column])
        return start ..< source.unsafelyUnwrapped.token(at: start).end
    }
}

enum STARWriter {
    static let defaultTrivia = "\n# version 30001\n\n"

    static func write<S: STARSink>(_ blocks: [STARBlock], to sink: inout S) throws(S.Failure) {
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

    static func writeFormatted<S: STARSink>(_ block: STARBlock, to sink: inout S) throws(S.Failure) {
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
            let plans = part.columns.map { CellPlan($0, hasTable: part.table != nil) }
            let ranges = splitRange(part.rowCount, into: part.rowCount >= 16384 ? Parallelism.jobs : 1)
            var partial = [[Int]](repeating: [Int](repeating: 0, count: columns), count: ranges.count)
            partial.withUnsafeMutableBufferPointer { buf in
                nonisolated(unsafe) let out = buf
                parallelForEach(ranges.count) { k in
                    // Row by row (the text is row-major, so each row is read once while in cache).
                    var w = [Int](repeating: 0, count: columns)
                    var varying: [Int] = []
                    for c in 0..<columns {
                        if case .constant(let bytes) = plans[c] { w[c] = bytes.count } else { varying.append(c) }
                    }
                    // Cells copied from the table are measured without going through the
                    // column enum (whose per-cell copies cost a retain/release each).
                    let fast = TableCells(part)
                    let hasTable = fast.table != nil
                    w.withUnsafeMutableBufferPointer { w in
                        for r in ranges[k] {
                            let row = hasTable ? fast.row(r) : (UnsafePointer(bitPattern: 4)!, 0)
                            for c in varying {
                                let width: Int
                                switch plans[c] {
                                case .table(let tc): width = fast.rawToken(row, tc).count
                                case .mapped(let tc, let map):
                                    let start = row.base + Int(row.offsets[tc])
                                    let token = fast.source.unsafelyUnwrapped.token(at: start)
                                    width = map.replacement(fast.base + token.content.lowerBound, token.content.count)?.count
                                        ?? (token.end - start)
                                default: width = cellWidth(part, r, part.columns[c])
                                }
                                if width > w[c] { w[c] = width }
                            }
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
            let plans = part.columns.map { CellPlan($0, hasTable: part.table != nil) }
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
                    let hasTable = fast.table != nil
                    let sourceCount = fast.source?.count ?? 0
                    for r in ranges[k] {
                        let row = hasTable ? fast.row(r) : (UnsafePointer(bitPattern: 4)!, 0)
                        for c in 0..<columns {
                            switch plans[c] {
                            case .table(let tc):
                                let token = fast.rawToken(row, tc)
                                b.appendSpaces(widths[c] - token.count + (c == 0 ? 0 : 1))
                                b.appendValue(fast.base + token.lowerBound, token.count, readable: sourceCount - token.lowerBound)
                                continue
                            case .constant(let bytes):
                                b.appendSpaces(widths[c] - bytes.count + (c == 0 ? 0 : 1))
                                bytes.withUnsafeBufferPointer { b.append($0.baseAddress!, $0.count) }
                                continue
                            case .mapped(let tc, let map):
                                let start = row.base + Int(row.offsets[tc])
                                let token = fast.source.unsafelyUnwrapped.token(at: start)
                                if let bytes = map.replacement(fast.base + token.content.lowerBound, token.content.count) {
                                    b.appendSpaces(widths[c] - bytes.count + (c == 0 ? 0 : 1))
                                    bytes.withUnsafeBufferPointer { b.append($0.baseAddress!, $0.count) }
                                } else {
                                    b.appendSpaces(widths[c] - (token.end - start) + (c == 0 ? 0 : 1))
                                    b.append(fast.base + start, token.end - start)
                                }
                                continue
                            case .general:
                                break
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
                var failure: S.Failure? = nil
                for k in 0..<ranges.count {
                    if failure == nil {
                        do throws(S.Failure) { try sink.write(buffers[k].bytes) } catch { failure = error }
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
