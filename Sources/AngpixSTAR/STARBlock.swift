// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// One table of a STAR file: a `loop_` with labelled columns and rows, or a group of `_label value`
// pairs (a key-value block is a table of one row). Values read from a file stay as byte offsets
// into the source text until asked for; edits (new or replaced columns, row selections,
// concatenations) are recorded as column descriptions over the original cells, so unchanged
// cells keep their exact text when written.

import AngpixCore

/// Where the values of one column of one part come from.
indirect enum STARColumnData: @unchecked Sendable {
    /// Column `n` of the part's tokenized table (original text).
    case table(Int)
    /// New values, one per row of the part.
    case values([String])
    /// The same value in every row.
    case constant(String)
    /// The values of `base`, with those found in the map replaced.
    case mapped(STARColumnData, [String: String])
}

/// A run of rows of a block that come from one tokenized table (or from none).
struct STARPart: @unchecked Sendable {
    var table: STARTable?
    /// Part row -> table row; nil means the identity.
    var rowMap: [Int]?
    var rowCount: Int
    var columns: [STARColumnData]

    @inline(__always) func tableRow(_ r: Int) -> Int { rowMap?[r] ?? r }
}

/// One table of a STAR document: a `loop_` or a group of key-value pairs (`data_general`).
///
/// Labels are stored without the leading underscore. Values are unquoted text; the typed readers
/// (`doubles`, `ints`) parse exactly and report the file and line of a bad value.
public final class STARBlock: @unchecked Sendable {
    /// The block's name without `data_` ("optics", "particles", "" for RELION 3.0's `data_`).
    public var name: String { didSet { if oldValue != name { touch() } } }
    /// Whether the block is a `loop_` table (false: key-value pairs).
    public var isLoop: Bool { didSet { if oldValue != isLoop { touch() } } }
    /// Column labels in order, without the leading underscore.
    public private(set) var labels: [String]
    /// Number of rows (1 for a key-value block with pairs, 0 for an empty one).
    public private(set) var rowCount: Int
    /// The file the block was read from (for messages), or a description.
    public var file: String
    /// True for a second (third, ...) table inside the same `data_` block, as in mmCIF files:
    /// it is written without a `data_` line of its own.
    public var sharesDataBlock: Bool = false

    var labelIndex: [String: Int]
    var parts: [STARPart]
    var partStarts: [Int]
    // Original text, for lossless writing of unchanged blocks.
    var source: STARSource?
    var rawRange: Range<Int>?
    var triviaRange: Range<Int>?

    init(name: String, isLoop: Bool, labels: [String], parts: [STARPart], file: String) {
        self.name = name
        self.isLoop = isLoop
        self.labels = labels
        self.parts = parts
        self.file = file
        var index: [String: Int] = [:]
        for (i, l) in labels.enumerated() where index[l] == nil { index[l] = i }
        labelIndex = index
        partStarts = []
        rowCount = 0
        recount()
    }

    /// Builds a loop table from rows of values (each row must have `labels.count` values).
    public convenience init(name: String, labels: [String], rows: [[String]]) {
        var columns: [[String]] = Array(repeating: [], count: labels.count)
        for c in 0..<labels.count { columns[c].reserveCapacity(rows.count) }
        for row in rows {
            precondition(row.count == labels.count, "row has \(row.count) values, the table has \(labels.count) columns")
            for c in 0..<labels.count { columns[c].append(row[c]) }
        }
        let part = STARPart(table: nil, rowMap: nil, rowCount: rows.count, columns: columns.map { .values($0) })
        self.init(name: name, isLoop: true, labels: labels.map(STARBlock.stripUnderscore), parts: [part], file: "<new>")
    }

    /// Builds a key-value block (`_label value` lines).
    public convenience init(name: String, pairs: [(String, String)]) {
        let part = STARPart(table: nil, rowMap: nil, rowCount: pairs.isEmpty ? 0 : 1,
                            columns: pairs.map { .values([$0.1]) })
        self.init(name: name, isLoop: false, labels: pairs.map { STARBlock.stripUnderscore($0.0) }, parts: [part], file: "<new>")
    }

    static func stripUnderscore(_ label: String) -> String {
        label.hasPrefix("_") ? String(label.dropFirst()) : label
    }

    func recount() {
        var starts: [Int] = []
        var n = 0
        for p in parts { starts.append(n); n += p.rowCount }
        partStarts = starts
        rowCount = n
    }

    /// Marks the block as changed: it is written from its values, not copied from its source text.
    func touch() { rawRange = nil }

    /// Whether the block is written back as its exact original text.
    public var isUnchanged: Bool { rawRange != nil }

    // MARK: reading

    /// Whether the block has a column `label`.
    public func has(_ label: String) -> Bool { labelIndex[label] != nil }

    /// The column number of `label`, or nil.
    public func columnIndex(_ label: String) -> Int? { labelIndex[label] }

    @inline(__always)
    func locate(_ row: Int) -> (part: Int, row: Int) {
        if parts.count == 1 { return (0, row) }
        var lo = 0, hi = parts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if partStarts[mid] <= row { lo = mid } else { hi = mid - 1 }
        }
        return (lo, row - partStarts[lo])
    }

    static func text(_ part: STARPart, _ row: Int, _ data: STARColumnData) -> String {
        switch data {
        case .table(let c): return part.table!.string(part.tableRow(row), c)
        case .values(let v): return v[row]
        case .constant(let s): return s
        case .mapped(let base, let map):
            let t = text(part, row, base)
            return STARBlock.lookup(map, t) ?? t
        }
    }

    /// The unquoted text of the value in `row` of column `label`, or nil if there is no such column.
    public func string(row: Int, _ label: String) -> String? {
        guard let c = labelIndex[label], row >= 0, row < rowCount else { return nil }
        let (p, r) = locate(row)
        return STARBlock.text(parts[p], r, parts[p].columns[c])
    }

    /// The unquoted text of the value at (row, column number).
    public func string(row: Int, column: Int) -> String {
        let (p, r) = locate(row)
        return STARBlock.text(parts[p], r, parts[p].columns[column])
    }

    /// The value of `label` in a key-value block (or the first row of a loop).
    public func value(_ label: String) -> String? {
        rowCount > 0 ? string(row: 0, label) : nil
    }

    /// The 1-based line of the file where the value at (row, label) is, if it came from a file.
    public func line(row: Int, _ label: String) -> Int? {
        guard let c = labelIndex[label], row >= 0, row < rowCount else { return nil }
        let (p, r) = locate(row)
        return STARBlock.line(parts[p], r, parts[p].columns[c])
    }

    static func line(_ part: STARPart, _ row: Int, _ data: STARColumnData) -> Int? {
        switch data {
        case .table(let c): return part.table!.line(part.tableRow(row), c)
        case .mapped(let base, _): return line(part, row, base)
        default: return nil
        }
    }

    /// The 1-based line of the first value of a row, if it came from a file.
    public func line(row: Int) -> Int? {
        guard row >= 0, row < rowCount else { return nil }
        let (p, r) = locate(row)
        for col in parts[p].columns { if let l = STARBlock.line(parts[p], r, col) { return l } }
        return nil
    }

    func requireColumn(_ label: String) throws -> Int {
        guard let c = labelIndex[label] else {
            throw STARError.missingLabel(file: file, block: name, label: label)
        }
        return c
    }

    /// All values of column `label` as unquoted text.
    public func strings(_ label: String) throws -> [String] {
        let c = try requireColumn(label)
        var out: [String] = []
        out.reserveCapacity(rowCount)
        for part in parts {
            switch part.columns[c] {
            case .values(let v): out.append(contentsOf: v)
            case .constant(let s): out.append(contentsOf: repeatElement(s, count: part.rowCount))
            default:
                for r in 0..<part.rowCount { out.append(STARBlock.text(part, r, part.columns[c])) }
            }
        }
        return out
    }

    /// All values of column `label` as numbers (exact decimal conversion).
    /// Throws naming the file and line of the first value that is not a number.
    public func doubles(_ label: String) throws -> [Double] {
        try typedColumn(label, as: Double.self)
    }

    /// All values of column `label` as integers (`140` or `140.000000`).
    public func ints(_ label: String) throws -> [Int] {
        try typedColumn(label, as: Int.self)
    }

    /// The value of `label` in a key-value block as a number; nil if absent, throws if not a number.
    public func doubleValue(_ label: String) throws -> Double? {
        guard has(label), rowCount > 0 else { return nil }
        return try typedValue(row: 0, label, expected: "a number", parseSTARDouble)
    }

    /// The value at (row, label) as a number; nil if the column is absent, throws if not a number.
    public func double(row: Int, _ label: String) throws -> Double? {
        guard has(label) else { return nil }
        return try typedValue(row: row, label, expected: "a number", parseSTARDouble)
    }

    /// The value at (row, label) as an integer; nil if the column is absent, throws if not one.
    public func int(row: Int, _ label: String) throws -> Int? {
        guard has(label) else { return nil }
        return try typedValue(row: row, label, expected: "an integer", parseSTARInt)
    }

    func typedValue<T>(row: Int, _ label: String, expected: String, _ parse: (String) -> T?) throws -> T {
        let text = string(row: row, label) ?? ""
        if let v = parse(text) { return v }
        throw STARError.badValue(file: file, line: line(row: row, label) , label: label, value: text, expected: expected)
    }

    func typedColumn<T: STARScalar>(_ label: String, as: T.Type) throws -> [T] {
        let c = try requireColumn(label)
        var result = [T](repeating: T.zero, count: rowCount)
        for (pi, part) in parts.enumerated() {
            let offset = partStarts[pi]
            if case .table(let tc) = part.columns[c], let table = part.table {
                // Work items: row ranges within segments (or within the row map).
                var items: [(segment: Int, rows: Range<Int>)] = []
                let jobs = part.rowCount >= 65536 ? Parallelism.jobs : 1
                if part.rowMap == nil {
                    for (si, seg) in table.segments.enumerated() where seg.rowCount > 0 {
                        for r in splitRange(seg.rowCount, into: max(1, jobs * seg.rowCount / max(1, part.rowCount))) {
                            items.append((si, r))
                        }
                    }
                } else {
                    for r in splitRange(part.rowCount, into: jobs) { items.append((-1, r)) }
                }
                var bad = [Int](repeating: Int.max, count: items.count)
                let src = table.source
                let columns = table.columnCount
                result.withUnsafeMutableBufferPointer { buffer in
                    nonisolated(unsafe) let out = buffer.baseAddress! + offset
                    bad.withUnsafeMutableBufferPointer { badBuffer in
                        nonisolated(unsafe) let badOut = badBuffer
                        parallelForEach(items.count) { k in
                            let item = items[k]
                            let base = src.base
                            let end = src.base + src.count
                            if item.segment >= 0 {
                                let seg = table.segments[item.segment]
                                let first = seg.firstRow
                                let segBase = base + seg.base
                                seg.offsets.withUnsafeBufferPointer { offs in
                                    let o = offs.baseAddress!
                                    for r in item.rows {
                                        let cell = segBase + Int(o[r * columns + tc])
                                        if let v = T.parseInPlace(cell, end) {
                                            out[first + r] = v
                                        } else {
                                            let range = src.token(at: cell - base).content
                                            guard let v = T.parse(base + range.lowerBound, range.count) else {
                                                badOut[k] = first + r
                                                return
                                            }
                                            out[first + r] = v
                                        }
                                    }
                                }
                            } else {
                                for r in item.rows {
                                    let range = table.content(part.tableRow(r), tc)
                                    guard let v = T.parse(base + range.lowerBound, range.count) else {
                                        badOut[k] = r
                                        return
                                    }
                                    out[r] = v
                                }
                            }
                        }
                    }
                }
                if let firstBad = bad.min(), firstBad != Int.max {
                    let text = table.string(part.tableRow(firstBad), tc)
                    throw STARError.badValue(file: file, line: table.line(part.tableRow(firstBad), tc),
                                             label: label, value: text, expected: T.expected)
                }
            } else {
                for r in 0..<part.rowCount {
                    let text = STARBlock.text(part, r, part.columns[c])
                    guard let v = T.parse(text) else {
                        throw STARError.badValue(file: file, line: STARBlock.line(part, r, part.columns[c]),
                                                 label: label, value: text, expected: T.expected)
                    }
                    result[offset + r] = v
                }
            }
        }
        return result
    }

    // MARK: editing

    /// Replaces column `label` (or appends it) with `values` (one per row).
    public func setColumn(_ label: String, _ values: [String]) {
        precondition(values.count == rowCount, "setColumn: \(values.count) values for \(rowCount) rows")
        let label = STARBlock.stripUnderscore(label)
        touch()
        let existing = labelIndex[label]
        for p in parts.indices {
            let slice = Array(values[partStarts[p] ..< partStarts[p] + parts[p].rowCount])
            if let c = existing { parts[p].columns[c] = .values(slice) } else { parts[p].columns.append(.values(slice)) }
        }
        if existing == nil { appendLabel(label) }
    }

    /// Replaces column `label` (or appends it) with one value for every row.
    public func setColumn(_ label: String, constant value: String) {
        let label = STARBlock.stripUnderscore(label)
        touch()
        let existing = labelIndex[label]
        for p in parts.indices {
            if let c = existing { parts[p].columns[c] = .constant(value) } else { parts[p].columns.append(.constant(value)) }
        }
        if existing == nil { appendLabel(label) }
    }

    /// The replacement of `text` in a value mapping: by exact text, or for integers written
    /// differently (`01`, `1.000000`) by their canonical decimal form.
    @inline(__always)
    static func lookup(_ map: [String: String], _ text: String) -> String? {
        if let v = map[text] { return v }
        if let i = parseSTARInt(text) { return map[String(i)] }
        return nil
    }

    /// Replaces, in column `label`, every value found as a key of `mapping` by the mapped value
    /// (integers are matched by value, so `01` matches the key `1`).
    public func replaceValues(in label: String, mapping: [String: String]) {
        guard let c = labelIndex[label], !mapping.isEmpty else { return }
        touch()
        for p in parts.indices { parts[p].columns[c] = .mapped(parts[p].columns[c], mapping) }
    }

    private func appendLabel(_ label: String) {
        labelIndex[label] = labels.count
        labels.append(label)
        if parts.isEmpty {
            parts = [STARPart(table: nil, rowMap: nil, rowCount: 0, columns: [.values([])])]
            recount()
        }
    }

    /// Removes column `label` if present.
    public func removeColumn(_ label: String) {
        guard let c = labelIndex[label] else { return }
        touch()
        labels.remove(at: c)
        for p in parts.indices { parts[p].columns.remove(at: c) }
        labelIndex = [:]
        for (i, l) in labels.enumerated() where labelIndex[l] == nil { labelIndex[l] = i }
    }

    /// Renames column `old` to `new` (values unchanged).
    public func renameColumn(_ old: String, to new: String) {
        guard let c = labelIndex[old] else { return }
        touch()
        labels[c] = STARBlock.stripUnderscore(new)
        labelIndex = [:]
        for (i, l) in labels.enumerated() where labelIndex[l] == nil { labelIndex[l] = i }
    }

    /// Moves the columns so that they appear in `order` (labels not listed keep their order after them).
    public func reorderColumns(_ order: [String]) {
        var newOrder: [Int] = order.compactMap { labelIndex[$0] }
        let listed = Set(newOrder)
        newOrder += labels.indices.filter { !listed.contains($0) }
        if newOrder == Array(labels.indices) { return }
        touch()
        labels = newOrder.map { labels[$0] }
        for p in parts.indices { parts[p].columns = newOrder.map { parts[p].columns[$0] } }
        labelIndex = [:]
        for (i, l) in labels.enumerated() where labelIndex[l] == nil { labelIndex[l] = i }
    }

    /// A new block with the given rows (in the given order), sharing the original text.
    public func selectingRows(_ rows: [Int]) -> STARBlock {
        var newParts: [STARPart] = []
        var i = 0
        while i < rows.count {
            let (p, _) = locate(rows[i])
            var j = i
            var map: [Int] = []
            var local: [Int] = []
            while j < rows.count {
                let (pj, rj) = locate(rows[j])
                if pj != p { break }
                local.append(rj)
                map.append(parts[p].tableRow(rj))
                j += 1
            }
            let part = parts[p]
            let columns: [STARColumnData] = part.columns.map { STARBlock.select($0, local) }
            newParts.append(STARPart(table: part.table, rowMap: part.table == nil ? nil : map,
                                     rowCount: local.count, columns: columns))
            i = j
        }
        let block = STARBlock(name: name, isLoop: isLoop, labels: labels, parts: newParts, file: file)
        block.sharesDataBlock = sharesDataBlock
        block.source = source
        block.triviaRange = triviaRange
        return block
    }

    static func select(_ data: STARColumnData, _ rows: [Int]) -> STARColumnData {
        switch data {
        case .table: return data
        case .constant: return data
        case .values(let v): return .values(rows.map { v[$0] })
        case .mapped(let base, let m): return .mapped(select(base, rows), m)
        }
    }

    /// A new loop with the rows of `blocks` one after another, with columns `labels`; a label a
    /// block lacks takes `fill[label]` (which must be given for it).
    public static func concatenating(_ blocks: [STARBlock], name: String, labels: [String],
                                     fill: [String: String] = [:]) -> STARBlock {
        var parts: [STARPart] = []
        for b in blocks {
            for part in b.parts {
                let columns: [STARColumnData] = labels.map { l in
                    if let c = b.labelIndex[l] { return part.columns[c] }
                    return .constant(fill[l] ?? "")
                }
                parts.append(STARPart(table: part.table, rowMap: part.rowMap, rowCount: part.rowCount, columns: columns))
            }
        }
        let block = STARBlock(name: name, isLoop: true, labels: labels, parts: parts, file: blocks.first?.file ?? "<new>")
        if let first = blocks.first { block.source = first.source; block.triviaRange = first.triviaRange }
        return block
    }

    /// A copy that no longer refers to this block's edits (the original text is shared).
    public func copy() -> STARBlock {
        let b = STARBlock(name: name, isLoop: isLoop, labels: labels, parts: parts, file: file)
        b.sharesDataBlock = sharesDataBlock
        b.source = source
        b.rawRange = rawRange
        b.triviaRange = triviaRange
        return b
    }
}
