// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A report page made from a folder of results (the convention `angpix report DIR` reads, and
// that `angpix demo` and every command's `--json`/`--plot` outputs follow):
//
//   DIR/NAME.json   one section per file, in file-name order (so "01-join.json" comes before
//                   "02-ctf.json"). Recognised keys: "title" (the section heading; otherwise made
//                   from NAME), "summary" (a string or a list of strings: paragraphs), "findings"
//                   (a list of {severity, problem|title, files, why, action}: coloured call-outs),
//                   "tables" (a list of {title, columns, rows}), "plots" (a list of SVG file names
//                   or {file, caption}), "notes" (a list of strings). Every other key is shown as
//                   it is: numbers and strings in a table of values, lists of objects as tables,
//                   long lists of numbers summarised (the plot shows them), nested objects as
//                   subsections.
//   DIR/NAME.svg, DIR/NAME-*.svg, DIR/NAME_*.svg, DIR/NAME.*.svg
//                   plots drawn inline in NAME.json's section (unless its "plots" lists them),
//                   captioned with their file name (an SVG carries its own title).
//   other *.svg     shown at the end under "Other plots".
// Hidden files and the report itself are ignored; sub-folders are not read.

import Foundation
import AngpixCore

/// Errors of the report builder.
public enum ReportError: AngpixError, Equatable {
    case notADirectory(path: String)
    case nothingToReport(path: String)
    case badJSON(path: String, reason: String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .notADirectory(let p): return "\(p): not a folder"
        case .nothingToReport(let p): return "\(p): no *.json summaries or *.svg plots to report"
        case .badJSON(let p, let reason): return "\(p): not valid JSON: \(reason)"
        case .unreadable(let p, let reason): return "\(p): cannot read: \(reason)"
        }
    }
}

/// Builds an `HTMLPage` from a folder of JSON summaries and SVG plots (see the file header for
/// the convention), or one section from one JSON result for a command's `--report FILE.html`.
public enum HTMLDirectoryReport {
    /// The file name `angpix report DIR` writes inside DIR by default.
    public static let defaultFileName = "report.html"

    /// Where `angpix report DIR` writes by default: DIR/report.html.
    public static func defaultOutput(for directory: String) -> String {
        (directory as NSString).appendingPathComponent(defaultFileName)
    }

    /// The page for the folder `directory` that will be written to `output`: the output file is
    /// not one of the results, whether it exists yet or not.
    public static func page(directory: String, title: String? = nil, writtenTo output: String) throws -> HTMLPage {
        let inside = canonicalPath((output as NSString).deletingLastPathComponent) == canonicalPath(directory)
        return try page(directory: directory, title: title, excluding: inside ? [(output as NSString).lastPathComponent] : [])
    }

    /// The page for the folder `directory`. Files named `excluding` (for example the report being
    /// written) are ignored.
    public static func page(directory: String, title: String? = nil, excluding: [String] = []) throws -> HTMLPage {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw ReportError.notADirectory(path: directory)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw ReportError.unreadable(path: directory, reason: "\(error.localizedDescription)")
        }
        let visible = names.filter { !$0.hasPrefix(".") && !excluding.contains($0) }
        let jsonNames = visible.filter { $0.lowercased().hasSuffix(".json") }
        let svgNames = visible.filter { $0.lowercased().hasSuffix(".svg") }
        if jsonNames.isEmpty && svgNames.isEmpty { throw ReportError.nothingToReport(path: directory) }

        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        func readSVG(_ name: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path(name)) else {
                throw ReportError.unreadable(path: path(name), reason: "cannot open the file")
            }
            return String(decoding: data, as: UTF8.self)
        }

        var claimed = Set<String>()
        var sections: [HTMLSection] = []
        for name in jsonNames {
            guard let data = FileManager.default.contents(atPath: path(name)) else {
                throw ReportError.unreadable(path: path(name), reason: "cannot open the file")
            }
            let value: HTMLJSONValue
            do { value = try parseHTMLJSON(data) } catch let e as HTMLJSONError {
                throw ReportError.badJSON(path: path(name), reason: e.description)
            }
            let stem = String(name.dropLast(5))
            // Plots the JSON lists, then plots that share its name.
            var plots: [(file: String, caption: String?)] = []
            if case .array(let listed)? = value["plots"] {
                for item in listed {
                    if let file = item.stringValue { plots.append((file, nil)) }
                    else if let file = item["file"]?.stringValue { plots.append((file, item["caption"]?.stringValue)) }
                }
            }
            plots = plots.filter { svgNames.contains($0.file) }
            for svg in svgNames where !plots.contains(where: { $0.file == svg }) && belongs(svg, to: stem) {
                plots.append((svg, nil))
            }
            var figures: [HTMLBlock] = []
            for plot in plots {
                claimed.insert(plot.file)
                let svg = try readSVG(plot.file)
                figures.append(.figure(svg: svg, caption: plot.caption ?? plot.file))
            }
            sections.append(section(from: value, name: stem, figures: figures))
        }
        let others = svgNames.filter { !claimed.contains($0) }
        if !others.isEmpty {
            var s = HTMLSection(title: jsonNames.isEmpty ? "Plots" : "Other plots")
            for name in others {
                let svg = try readSVG(name)
                s.add(.figure(svg: svg, caption: name))
            }
            sections.append(s)
        }
        let folder = (canonicalPath(directory) as NSString).lastPathComponent
        return HTMLPage(
            title: title ?? "angpix report: \(folder)",
            subtitle: "\(jsonNames.count) result file\(jsonNames.count == 1 ? "" : "s") and \(svgNames.count) plot\(svgNames.count == 1 ? "" : "s") in \(canonicalPath(directory))",
            sections: sections,
            footer: "Made by angpix report. Self-contained: no scripts, no external files; readable offline.")
    }

    /// Whether the SVG file `svg` goes with the JSON summary whose name (without ".json") is `stem`.
    static func belongs(_ svg: String, to stem: String) -> Bool {
        let base = String(svg.dropLast(4))
        if base == stem { return true }
        for sep in ["-", "_", "."] where base.hasPrefix(stem + sep) { return true }
        return false
    }

    /// One section from one JSON result (the convention above), with `figures` after its summary.
    /// Commands use this for `--report FILE.html`: `HTMLPage(title:…, sections: [section(…)])`.
    public static func section(from value: HTMLJSONValue, name: String, figures: [HTMLBlock] = []) -> HTMLSection {
        let stripped = String(name.drop { $0.isNumber || $0 == "-" || $0 == "_" })
        let title = value["title"]?.stringValue ?? humanize(stripped.isEmpty ? name : stripped)
        var section = HTMLSection(title: title)
        switch value["summary"] {
        case .string(let s)?: section.add(.paragraph(s))
        case .array(let items)?: for item in items { if let s = item.stringValue { section.add(.paragraph(s)) } }
        default: break
        }
        if case .array(let findings)? = value["findings"] {
            let blocks = findingBlocks(findings)
            if blocks.isEmpty { section.add(.callout(HTMLCallout(kind: .ok, title: "No problems found."))) }
            section.blocks += blocks
            let errors = findings.filter { HTMLCalloutKind(text: $0["severity"]?.stringValue ?? "") == .error }.count
            let warnings = findings.filter { HTMLCalloutKind(text: $0["severity"]?.stringValue ?? "") == .warning }.count
            if errors > 0 { section.badge = HTMLBadge("\(errors) error\(errors == 1 ? "" : "s")", kind: .error) }
            else if warnings > 0 { section.badge = HTMLBadge("\(warnings) warning\(warnings == 1 ? "" : "s")", kind: .warning) }
            else { section.badge = HTMLBadge("ok", kind: .ok) }
        }
        section.blocks += figures
        if case .array(let tables)? = value["tables"] {
            for t in tables {
                guard case .array(let cols)? = t["columns"], case .array(let rows)? = t["rows"] else { continue }
                let rowCells: [[String]] = rows.map { row in
                    if case .array(let cells) = row { return cells.map(cellText) }
                    return [cellText(row)]
                }
                section.add(.table(HTMLTable(caption: t["title"]?.stringValue, columns: cols.map(cellText), rows: rowCells)))
            }
        }
        let reserved: Set<String> = ["title", "summary", "findings", "tables", "plots", "notes"]
        if case .object(let members) = value {
            let raw = genericBlocks(members.filter { !reserved.contains($0.key) }, depth: 0)
            // A result that tells its own story (a summary or tables) keeps the raw values folded away.
            let curated = value["summary"] != nil || value["tables"] != nil
            if curated && !raw.isEmpty {
                section.add(.details(summary: "All values (\(name).json)", blocks: raw))
            } else {
                section.blocks += raw
            }
        } else if value != .null {
            section.blocks += genericBlocks([HTMLJSONMember("value", value)], depth: 0)
        }
        if case .array(let notes)? = value["notes"] {
            let items = notes.compactMap(\.stringValue)
            if !items.isEmpty { section.add(.heading("Notes")); section.add(.list(items)) }
        }
        return section
    }

    /// Call-outs for a list of findings ({severity, problem|title|message, files, why, action}).
    static func findingBlocks(_ findings: [HTMLJSONValue]) -> [HTMLBlock] {
        findings.map { f in
            let kind = HTMLCalloutKind(text: f["severity"]?.stringValue ?? "info")
            let headline = f["problem"]?.stringValue ?? f["title"]?.stringValue ?? f["message"]?.stringValue ?? cellText(f)
            var details: [HTMLDetail] = []
            if case .array(let files)? = f["files"], !files.isEmpty {
                details.append(HTMLDetail("Files", files.map(cellText).joined(separator: ", ")))
            }
            if let why = f["why"]?.stringValue { details.append(HTMLDetail("Why it matters", why)) }
            if let action = f["action"]?.stringValue { details.append(HTMLDetail("What to do", action)) }
            return .callout(HTMLCallout(kind: kind, title: headline, details: details))
        }
    }

    /// Blocks showing arbitrary JSON members: scalars in one table of values, lists of objects as
    /// tables, short lists of scalars inline, long numeric lists summarised, objects as subsections.
    static func genericBlocks(_ members: [HTMLJSONMember], depth: Int) -> [HTMLBlock] {
        var values: [HTMLDetail] = []
        var after: [HTMLBlock] = []
        for m in members {
            let label = humanize(m.key)
            switch m.value {
            case .array(let items) where items.allSatisfy(\.isScalar):
                values.append(HTMLDetail(label, listSummary(items)))
            case .array(let items) where items.allSatisfy({ if case .object = $0 { return true } else { return false } }):
                if m.key == "findings" { after += findingBlocks(items); continue }
                var columns: [String] = []
                for item in items {
                    if case .object(let ms) = item { for x in ms where !columns.contains(x.key) { columns.append(x.key) } }
                }
                // Scalars (and short lists of scalars) in the table; nested objects below it, item by item.
                func simple(_ v: HTMLJSONValue?) -> Bool {
                    guard let v else { return true }
                    if case .array(let a) = v { return a.allSatisfy(\.isScalar) }
                    return v.isScalar
                }
                let flat = columns.filter { c in items.allSatisfy { simple($0[c]) } }
                let nested = columns.filter { !flat.contains($0) }
                let rows = items.map { item in flat.map { c in item[c].map(cellText) ?? "" } }
                after.append(.table(HTMLTable(caption: label, columns: flat.map(humanize), rows: rows)))
                if !nested.isEmpty {
                    for (i, item) in items.enumerated() {
                        let preferred = ["name", "mode", "title", "label", "opticsGroup", "group", "id"]
                        let key = preferred.first(where: flat.contains)
                            ?? flat.first(where: { c in items.allSatisfy { $0[c]?.stringValue != nil } })
                        let name = key.flatMap { item[$0] }.map(cellText) ?? "\(i + 1)"
                        let members = nested.compactMap { c in item[c].map { HTMLJSONMember(c, $0) } }
                        if depth >= 2 {
                            after.append(.keyValues(caption: "\(label): \(name)", members.map { HTMLDetail(humanize($0.key), cellText($0.value)) }))
                        } else {
                            after.append(.heading("\(label): \(name)"))
                            after += genericBlocks(members, depth: depth + 1)
                        }
                    }
                }
            case .object(let inner):
                if depth >= 3 { values.append(HTMLDetail(label, cellText(m.value))); continue }
                if inner.allSatisfy({ $0.value.isScalar }) {
                    after.append(.keyValues(caption: label, inner.map { HTMLDetail(humanize($0.key), cellText($0.value)) }))
                } else {
                    after.append(.heading(label))
                    after += genericBlocks(inner, depth: depth + 1)
                }
            default:
                values.append(HTMLDetail(label, cellText(m.value)))
            }
        }
        return (values.isEmpty ? [] : [.keyValues(caption: nil, values)]) + after
    }

    /// A list of scalars as one line: all of them when short, otherwise their count and range.
    static func listSummary(_ items: [HTMLJSONValue]) -> String {
        if items.count <= 12 { return items.map(cellText).joined(separator: ", ") }
        let numbers = items.compactMap { v -> Double? in if case .number(let d, _) = v { return d } else { return nil } }
        if numbers.count == items.count, let lo = numbers.min(), let hi = numbers.max() {
            return "\(items.count) numbers, from \(formatNumber(lo)) to \(formatNumber(hi)) (first \(formatNumber(numbers[0])), last \(formatNumber(numbers[numbers.count - 1])))"
        }
        return items.prefix(8).map(cellText).joined(separator: ", ") + ", … (\(items.count) in all)"
    }

    /// A value as the text of one table cell.
    static func cellText(_ value: HTMLJSONValue) -> String {
        switch value {
        case .null: return "—"
        case .bool(let b): return b ? "yes" : "no"
        case .number(let d, let text): return text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) ? formatNumber(d) : text
        case .string(let s): return s
        case .array(let items): return listSummary(items)
        case .object(let members): return members.map { "\($0.key): \(cellText($0.value))" }.joined(separator: "; ")
        }
    }

    /// A number with at most six significant digits, without trailing zeros.
    public static func formatNumber(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "nan" : (d > 0 ? "inf" : "-inf") }
        if d == d.rounded() && abs(d) < 1e9 { return String(Int64(d)) }
        return formatSignificant(d)
    }

    /// "pixelSize" → "Pixel size", "true_pixel_size" → "True pixel size", "rlnImagePixelSize" kept.
    static func humanize(_ key: String) -> String {
        if key.hasPrefix("rln") || key.isEmpty { return key }
        var words: [String] = []
        var current = ""
        let chars = Array(key)
        for (i, ch) in chars.enumerated() {
            if ch == "_" || ch == "-" || ch == " " {
                if !current.isEmpty { words.append(current); current = "" }
                continue
            }
            let prevLower = i > 0 && (chars[i - 1].isLowercase || chars[i - 1].isNumber)
            if ch.isUppercase && prevLower && !current.isEmpty { words.append(current); current = "" }
            current.append(ch)
        }
        if !current.isEmpty { words.append(current) }
        let lowered = words.map { w in w.count > 1 && w.allSatisfy({ $0.isUppercase || $0.isNumber }) ? w : w.lowercased() }
        guard var text = Optional(lowered.joined(separator: " ")), let first = text.first else { return key }
        text.replaceSubrange(text.startIndex...text.startIndex, with: String(first).uppercased())
        return text
    }
}
