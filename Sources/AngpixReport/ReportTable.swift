// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tables of results: the {title, columns, rows} object of the report folder convention (see
// HTMLDirectoryReport.swift) and the same rows as aligned text for a terminal.

/// A table in the report folder convention of `angpix report`: a title, column headings and rows of cells.
public struct ReportTable: Encodable, Sendable, Equatable {
    public var title: String
    public var columns: [String]
    public var rows: [[String]]

    public init(title: String, columns: [String], rows: [[String]]) {
        self.title = title
        self.columns = columns
        self.rows = rows
    }
}

/// Rows of cells as left-aligned text columns separated by two spaces, one line per row.
public func formatTable(_ rows: [[String]]) -> String {
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: width)
    for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
    var o = ""
    for row in rows {
        var line = ""
        for (i, c) in row.enumerated() {
            line += c
            if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - c.count + 2) }
        }
        o += line + "\n"
    }
    return o
}
