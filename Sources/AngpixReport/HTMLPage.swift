// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A self-contained HTML5 page (WHATWG HTML Living Standard): inline CSS, inline SVG figures,
// tables of numbers and call-outs, with no scripts and no external resources, so that the file
// reads the same offline, in a mail attachment or in ten years. Commands build one from sections
// of blocks (`HTMLPage`, `HTMLSection`, `HTMLBlock`) and write it with `write(to:policy:)`.
// The Report module knows nothing of the science: it lays out text, numbers and SVG documents.

import Foundation
import AngpixCore

/// A whole report page: a title, an optional subtitle, and sections shown in order.
public struct HTMLPage: Sendable {
    /// The page title (the `<title>` and the top heading).
    public var title: String
    /// A line under the title (for example what produced the page and when).
    public var subtitle: String?
    /// The sections, in order; a table of contents is added when there are three or more.
    public var sections: [HTMLSection]
    /// A line at the bottom of the page.
    public var footer: String?

    public init(title: String, subtitle: String? = nil, sections: [HTMLSection] = [], footer: String? = nil) {
        self.title = title
        self.subtitle = subtitle
        self.sections = sections
        self.footer = footer
    }

    /// Appends a section.
    public mutating func add(_ section: HTMLSection) { sections.append(section) }

    /// The complete HTML document.
    public func render() -> String {
        var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        out += "<title>\(htmlEscape(title))</title>\n<style>\n\(HTMLPage.styleSheet)</style>\n</head>\n<body>\n"
        out += "<header>\n<h1>\(htmlEscape(title))</h1>\n"
        if let subtitle { out += "<p class=\"subtitle\">\(htmlEscape(subtitle))</p>\n" }
        out += "</header>\n<main>\n"
        let ids = HTMLPage.uniqueIDs(sections.map { $0.id ?? $0.title })
        if sections.count >= 3 {
            out += "<nav class=\"toc\"><h2>Contents</h2><ol>\n"
            for (section, id) in zip(sections, ids) {
                let mark = section.badge.map { " <span class=\"badge \($0.cssClass)\">\(htmlEscape($0.label))</span>" } ?? ""
                out += "<li><a href=\"#\(id)\">\(htmlEscape(section.title))</a>\(mark)</li>\n"
            }
            out += "</ol></nav>\n"
        }
        for (section, id) in zip(sections, ids) {
            out += section.render(id: id)
        }
        out += "</main>\n"
        if let footer { out += "<footer>\(htmlEscape(footer))</footer>\n" }
        out += "</body>\n</html>\n"
        return out
    }

    /// Writes the page atomically to `path` (an existing file is replaced only if `policy` allows).
    public func write(to path: String, policy: OutputPolicy = OutputPolicy()) throws {
        try writeFileAtomically(render(), to: path, policy: policy)
    }

    /// Anchors made from titles: lower-case letters, digits and dashes, unique on the page.
    static func uniqueIDs(_ names: [String]) -> [String] {
        var seen: [String: Int] = [:]
        return names.map { name in
            var slug = ""
            for ch in name.lowercased() {
                if ch.isASCII && (ch.isLetter || ch.isNumber) { slug.append(ch) }
                else if !slug.isEmpty && slug.last != "-" { slug.append("-") }
            }
            while slug.last == "-" { slug.removeLast() }
            if slug.isEmpty { slug = "section" }
            let n = seen[slug, default: 0]
            seen[slug] = n + 1
            return n == 0 ? slug : "\(slug)-\(n + 1)"
        }
    }

    /// The page's style sheet (inline; system fonts only).
    static let styleSheet = """
    :root { --ink: #1d2733; --muted: #5b6776; --line: #d9dee5; --bg: #ffffff; --panel: #f6f8fa;
            --accent: #1f5fa8; --error: #b42318; --warning: #b54708; --info: #175cd3; --ok: #067647; }
    * { box-sizing: border-box; }
    html { background: var(--bg); }
    body { margin: 0; color: var(--ink); font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto,
           "Helvetica Neue", Arial, "Noto Sans", "DejaVu Sans", sans-serif; }
    header { background: #17324d; color: #fff; padding: 28px max(24px, calc((100% - 1040px) / 2)) 22px; }
    header h1 { margin: 0; font-size: 28px; font-weight: 650; letter-spacing: .2px; }
    header .subtitle { margin: 6px 0 0; color: #c9d6e3; font-size: 15px; }
    main { max-width: 1040px; margin: 0 auto; padding: 8px 24px 40px; }
    footer { max-width: 1040px; margin: 0 auto; padding: 16px 24px 32px; color: var(--muted);
             font-size: 13px; border-top: 1px solid var(--line); }
    h2 { font-size: 22px; margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
    h3 { font-size: 17px; margin: 22px 0 8px; color: #2c3a4b; }
    p { margin: 8px 0; }
    code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13.5px; }
    pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
          overflow-x: auto; white-space: pre-wrap; }
    nav.toc { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 18px; margin-top: 22px; }
    nav.toc h2 { font-size: 15px; margin: 4px 0; border: 0; padding: 0; color: var(--muted);
                 text-transform: uppercase; letter-spacing: .6px; }
    nav.toc ol { margin: 4px 0 6px; padding-left: 22px; columns: 2; column-gap: 32px; }
    nav.toc a { color: var(--accent); text-decoration: none; }
    .badge { display: inline-block; font-size: 11.5px; font-weight: 600; padding: 0 7px; border-radius: 9px;
             vertical-align: 1px; margin-left: 4px; color: #fff; }
    .badge.error { background: var(--error); } .badge.warning { background: var(--warning); }
    .badge.info { background: var(--info); } .badge.ok { background: var(--ok); }
    table { border-collapse: collapse; margin: 10px 0 14px; font-size: 14.5px; min-width: 40%; }
    caption { text-align: left; font-weight: 600; padding: 4px 0 6px; color: #2c3a4b; }
    th, td { border-bottom: 1px solid var(--line); padding: 5px 12px; text-align: left; vertical-align: top; }
    th { background: var(--panel); font-weight: 600; border-bottom: 2px solid var(--line); }
    tbody tr:nth-child(even) td { background: #fbfcfd; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    table.kv { min-width: 0; }
    table.kv th { background: none; border-bottom: 1px solid var(--line); font-weight: 500; color: var(--muted); white-space: nowrap; padding-right: 28px; }
    table.kv tbody tr:nth-child(even) td { background: none; }
    .table-wrap { overflow-x: auto; }
    figure { margin: 16px 0 22px; padding: 12px; border: 1px solid var(--line); border-radius: 8px; background: #fff; }
    figure svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
    figcaption { color: var(--muted); font-size: 14px; margin-top: 8px; text-align: center; }
    .callout { border: 1px solid var(--line); border-left: 5px solid var(--info); border-radius: 6px;
               padding: 10px 14px; margin: 12px 0; background: #f5f8ff; }
    .callout.error { border-left-color: var(--error); background: #fef3f2; }
    .callout.warning { border-left-color: var(--warning); background: #fffaeb; }
    .callout.ok { border-left-color: var(--ok); background: #ecfdf3; }
    .callout .label { font-weight: 700; text-transform: uppercase; font-size: 12px; letter-spacing: .6px; margin-right: 6px; }
    .callout.error .label { color: var(--error); } .callout.warning .label { color: var(--warning); }
    .callout.info .label { color: var(--info); } .callout.ok .label { color: var(--ok); }
    .callout .title { font-weight: 600; }
    .callout dl { margin: 6px 0 0; display: grid; grid-template-columns: max-content 1fr; column-gap: 12px; row-gap: 2px; }
    .callout dt { color: var(--muted); font-size: 14px; }
    .callout dd { margin: 0; font-size: 14.5px; }
    ul.plain { margin: 6px 0; padding-left: 22px; }
    details { margin: 14px 0; border: 1px solid var(--line); border-radius: 8px; padding: 6px 14px; background: #fcfcfd; }
    details > summary { cursor: pointer; color: var(--accent); font-weight: 600; font-size: 14.5px; padding: 4px 0; }
    details[open] > summary { margin-bottom: 6px; }
    .muted { color: var(--muted); }
    @media print { header { background: none; color: var(--ink); } header .subtitle { color: var(--muted); } }

    """
}

/// One titled part of a page: paragraphs, tables, figures and call-outs, in order.
public struct HTMLSection: Sendable {
    /// The heading.
    public var title: String
    /// The anchor used by the table of contents (made from the title when nil).
    public var id: String?
    /// A small label next to the title in the contents (for example "2 errors").
    public var badge: HTMLBadge?
    /// The content, in order.
    public var blocks: [HTMLBlock]

    public init(title: String, id: String? = nil, badge: HTMLBadge? = nil, blocks: [HTMLBlock] = []) {
        self.title = title
        self.id = id
        self.badge = badge
        self.blocks = blocks
    }

    /// Appends a block.
    public mutating func add(_ block: HTMLBlock) { blocks.append(block) }

    func render(id: String) -> String {
        var out = "<section id=\"\(id)\">\n<h2>\(htmlEscape(title))"
        if let badge { out += " <span class=\"badge \(badge.cssClass)\">\(htmlEscape(badge.label))</span>" }
        out += "</h2>\n"
        for block in blocks { out += block.render() }
        out += "</section>\n"
        return out
    }
}

/// A small coloured label: its text and its kind.
public struct HTMLBadge: Sendable {
    public var label: String
    public var kind: HTMLCalloutKind
    public init(_ label: String, kind: HTMLCalloutKind) {
        self.label = label
        self.kind = kind
    }
    var cssClass: String { kind.rawValue }
}

/// The colour and label of a call-out.
public enum HTMLCalloutKind: String, Sendable, CaseIterable {
    case error, warning, info, ok

    /// Reads "error", "warning", "info"/"note", "ok"/"success" (any case); unknown text is `info`.
    public init(text: String) {
        switch text.lowercased() {
        case "error", "serious", "fail", "failed": self = .error
        case "warning", "warn": self = .warning
        case "ok", "success", "pass", "passed": self = .ok
        default: self = .info
        }
    }
}

/// A highlighted box: a finding, a warning, a conclusion.
public struct HTMLCallout: Sendable {
    public var kind: HTMLCalloutKind
    /// The one-line headline.
    public var title: String
    /// Labelled details ("Files", "Why it matters", "What to do"), shown as a small definition list.
    public var details: [HTMLDetail]

    public init(kind: HTMLCalloutKind, title: String, details: [HTMLDetail] = []) {
        self.kind = kind
        self.title = title
        self.details = details
    }
}

/// One labelled line of a call-out.
public struct HTMLDetail: Sendable {
    public var label: String
    public var text: String
    public init(_ label: String, _ text: String) {
        self.label = label
        self.text = text
    }
}

/// A table of text cells. Columns whose cells are all numbers are right-aligned.
public struct HTMLTable: Sendable {
    public var caption: String?
    public var columns: [String]
    public var rows: [[String]]

    public init(caption: String? = nil, columns: [String], rows: [[String]]) {
        self.caption = caption
        self.columns = columns
        self.rows = rows
    }

    func render() -> String {
        let numeric = columns.indices.map { c in
            rows.contains { c < $0.count && !$0[c].isEmpty } &&
            rows.allSatisfy { c >= $0.count || $0[c].isEmpty || HTMLTable.looksNumeric($0[c]) }
        }
        var out = "<div class=\"table-wrap\"><table>\n"
        if let caption { out += "<caption>\(htmlEscape(caption))</caption>\n" }
        out += "<thead><tr>"
        for (c, name) in columns.enumerated() {
            out += numeric[c] ? "<th class=\"num\">" : "<th>"
            out += "\(htmlEscape(name))</th>"
        }
        out += "</tr></thead>\n<tbody>\n"
        for row in rows {
            out += "<tr>"
            for c in columns.indices {
                let cell = c < row.count ? row[c] : ""
                out += numeric[c] ? "<td class=\"num\">" : "<td>"
                out += "\(htmlEscape(cell))</td>"
            }
            out += "</tr>\n"
        }
        out += "</tbody></table></div>\n"
        return out
    }

    /// A number, possibly signed, with an optional unit-free exponent or a trailing "%".
    static func looksNumeric(_ text: String) -> Bool {
        var t = Substring(text.trimmingCharacters(in: .whitespaces))
        if t.hasSuffix("%") { t = t.dropLast() }
        if t.hasPrefix("−") { t = t.dropFirst() }
        return !t.isEmpty && Double(t) != nil
    }
}

/// One piece of content of a section.
public enum HTMLBlock: Sendable {
    /// A paragraph of plain text.
    case paragraph(String)
    /// A smaller subheading.
    case heading(String)
    /// A bulleted list of plain-text items.
    case list([String])
    /// Monospaced text (a command line, a file excerpt).
    case code(String)
    /// A table.
    case table(HTMLTable)
    /// A two-column table of named values.
    case keyValues(caption: String?, [HTMLDetail])
    /// An SVG document drawn inline, with a caption.
    case figure(svg: String, caption: String?)
    /// A highlighted box.
    case callout(HTMLCallout)
    /// Content folded away under a one-line summary (HTML `<details>`; opens on a click, no script).
    case details(summary: String, blocks: [HTMLBlock])

    func render() -> String {
        switch self {
        case .paragraph(let text):
            return "<p>\(htmlEscape(text))</p>\n"
        case .heading(let text):
            return "<h3>\(htmlEscape(text))</h3>\n"
        case .list(let items):
            return "<ul class=\"plain\">\n" + items.map { "<li>\(htmlEscape($0))</li>\n" }.joined() + "</ul>\n"
        case .code(let text):
            return "<pre><code>\(htmlEscape(text))</code></pre>\n"
        case .table(let table):
            return table.render()
        case .keyValues(let caption, let pairs):
            var out = "<div class=\"table-wrap\"><table class=\"kv\">\n"
            if let caption { out += "<caption>\(htmlEscape(caption))</caption>\n" }
            out += "<tbody>\n"
            for pair in pairs {
                let cls = HTMLTable.looksNumeric(pair.text) ? " class=\"num\"" : ""
                out += "<tr><th>\(htmlEscape(pair.label))</th><td\(cls)>\(htmlEscape(pair.text))</td></tr>\n"
            }
            return out + "</tbody></table></div>\n"
        case .figure(let svg, let caption):
            var out = "<figure>\n\(inlineSVG(svg))\n"
            if let caption { out += "<figcaption>\(htmlEscape(caption))</figcaption>\n" }
            return out + "</figure>\n"
        case .callout(let c):
            var out = "<div class=\"callout \(c.kind.rawValue)\"><span class=\"label\">\(c.kind.rawValue)</span>"
            out += "<span class=\"title\">\(htmlEscape(c.title))</span>\n"
            if !c.details.isEmpty {
                out += "<dl>\n"
                for d in c.details { out += "<dt>\(htmlEscape(d.label))</dt><dd>\(htmlEscape(d.text))</dd>\n" }
                out += "</dl>\n"
            }
            return out + "</div>\n"
        case .details(let summary, let blocks):
            return "<details>\n<summary>\(htmlEscape(summary))</summary>\n" + blocks.map { $0.render() }.joined() + "</details>\n"
        }
    }
}

/// Escapes text for HTML element content and attribute values.
public func htmlEscape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for ch in text.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out
}

/// An SVG document made fit to sit inside HTML: the XML declaration, DOCTYPE and comments before
/// the root are dropped, and anything that would run or fetch something (`<script>`, `on…=`
/// attributes, `<foreignObject>`, external `href`s) is refused: such a figure is replaced by a note.
func inlineSVG(_ svg: String) -> String {
    guard let start = svg.range(of: "<svg") else {
        return "<p class=\"muted\">(not an SVG document)</p>"
    }
    let body = String(svg[start.lowerBound...]).trimmingCharacters(in: .whitespacesAndNewlines)
    let lower = body.lowercased()
    let forbidden = ["<script", "<foreignobject", "javascript:", "href=\"http", "href='http", "<iframe", "<image"]
    if forbidden.contains(where: lower.contains) || lower.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) != nil {
        return "<p class=\"muted\">(figure left out: it contains scripts or external references)</p>"
    }
    return body
}
