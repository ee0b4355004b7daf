// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the HTML page builder and of the folder-of-results report (Report/HTML*.swift).

import Foundation
import Testing
import AngpixTestSupport
@testable import AngpixReport

@Test func testPageIsSelfContainedAndEscapesText() {
    var page = HTMLPage(title: "Pixel size <check>", subtitle: "a & b")
    page.add(HTMLSection(title: "Numbers", blocks: [
        .paragraph("0.98 < 1.00 & \"quoted\""),
        .table(HTMLTable(caption: "Groups", columns: ["group", "pixel size (Å)"], rows: [["1", "1.000"], ["2", "0.950"]])),
    ]))
    let html = page.render()
    #expect(html.hasPrefix("<!DOCTYPE html>"))
    #expect(html.contains("<title>Pixel size &lt;check&gt;</title>"))
    #expect(html.contains("0.98 &lt; 1.00 &amp; &quot;quoted&quot;"))
    #expect(html.contains("<td class=\"num\">0.950</td>"))
    // Nothing is fetched from elsewhere and nothing runs.
    #expect(!html.contains("<script"))
    #expect(!html.contains("http://") && !html.contains("https://"))
    #expect(!html.contains("<link"))
}

@Test func testTableOfContentsAppearsFromThreeSectionsWithUniqueAnchors() {
    let page = HTMLPage(title: "T", sections: [
        HTMLSection(title: "CTF"), HTMLSection(title: "CTF"), HTMLSection(title: "Ωmega 1.0"),
    ])
    let html = page.render()
    #expect(html.contains("<nav class=\"toc\">"))
    #expect(html.contains("id=\"ctf\"") && html.contains("id=\"ctf-2\"") && html.contains("id=\"mega-1-0\""))
    let two = HTMLPage(title: "T", sections: [HTMLSection(title: "A"), HTMLSection(title: "B")])
    #expect(!two.render().contains("<nav"))
}

@Test func testSVGIsInlinedWithoutItsXMLPrologAndScriptsAreRefused() {
    let svg = "<?xml version=\"1.0\"?>\n<!-- c -->\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"><line x1=\"0\" y1=\"0\" x2=\"10\" y2=\"10\" stroke=\"black\"/></svg>"
    let ok = HTMLBlock.figure(svg: svg, caption: "line").render()
    #expect(ok.contains("<svg xmlns"))
    #expect(!ok.contains("<?xml"))
    let bad = HTMLBlock.figure(svg: "<svg><script>alert(1)</script></svg>", caption: nil).render()
    #expect(!bad.contains("<script"))
    let handler = HTMLBlock.figure(svg: "<svg onload=\"x()\"></svg>", caption: nil).render()
    #expect(!handler.contains("onload"))
}

@Test func testJSONReaderKeepsKeyOrderAndTellsBooleansFromNumbers() throws {
    let v = try parseHTMLJSON(Data(#"{"z": 1, "a": [true, 2.50, "x\u00c5\n"], "m": null, "e": -1.4e-05}"#.utf8))
    guard case .object(let members) = v else { Issue.record("not an object"); return }
    #expect(members.map(\.key) == ["z", "a", "m", "e"])
    #expect(v["a"] == .array([.bool(true), .number(2.5, "2.50"), .string("xÅ\n")]))
    #expect(v["e"] == .number(-1.4e-05, "-1.4e-05"))
    #expect(throws: HTMLJSONError.self) { try parseHTMLJSON(Data("{\"a\": 1,}".utf8)) }
    #expect(throws: HTMLJSONError.self) { try parseHTMLJSON(Data("[1] x".utf8)) }
    #expect(throws: HTMLJSONError.self) { try parseHTMLJSON(Data("\"open".utf8)) }
}

@Test func testHumanizedKeysAndNumbers() {
    #expect(HTMLDirectoryReport.humanize("pixelSize") == "Pixel size")
    #expect(HTMLDirectoryReport.humanize("true_pixel_size") == "True pixel size")
    #expect(HTMLDirectoryReport.humanize("csApparentMM") == "Cs apparent MM")
    #expect(HTMLDirectoryReport.humanize("rlnImagePixelSize") == "rlnImagePixelSize")
    #expect(HTMLDirectoryReport.formatNumber(0.9473684210526315) == "0.947368")
    #expect(HTMLDirectoryReport.formatNumber(140) == "140")
    #expect(HTMLDirectoryReport.formatNumber(5605.536332179931) == "5605.54")
}

@Test func testFolderReportFollowsTheConvention() throws {
    let dir = TemporaryDirectory("report")
    dir.write("01-ctf.json", """
    {"title": "CTF at a wrong pixel size", "summary": "Defocus absorbs most of the error.",
     "fittedDefocus": 5526.1, "inPhaseUpTo": 3.3, "frequencies": [\((0..<50).map { String(Double($0) * 0.01) }.joined(separator: ","))],
     "groups": [{"group": 1, "pixelSize": 1.0}, {"group": 2, "pixelSize": 0.95}],
     "runs": [{"mode": "defocus", "phase": {"holdsTo": 3.3}}, {"mode": "defocus+cs", "phase": {"holdsTo": 1.0}}],
     "tables": [{"title": "Fits", "columns": ["fit", "defocus (Å)"], "rows": [["defocus", 5526.1], ["defocus+Cs", 5605.5]]}],
     "notes": ["Cs and the voltage must be trusted."]}
    """)
    dir.write("01-ctf.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"><title>CTF curves</title><rect width=\"5\" height=\"5\"/></svg>")
    dir.write("01-ctf-zoom.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"><title>Zoom</title></svg>")
    dir.write("02-check.json", """
    {"findings": [{"severity": "error", "problem": "Reference at 0.98 Å/px matches no optics group", "files": ["ref.mrc"], "why": "stretching", "action": "use the 1.00 map"},
                  {"severity": "warning", "problem": "Old columns"}], "serious": true}
    """)
    dir.write("zz-extra.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"><title>Extra</title></svg>")
    dir.write(".hidden.json", "not json")
    let page = try HTMLDirectoryReport.page(directory: dir.path)
    #expect(page.sections.map(\.title) == ["CTF at a wrong pixel size", "Check", "Other plots"])
    let html = page.render()
    #expect(html.contains("<figcaption>01-ctf.svg</figcaption>") && html.contains("<figcaption>01-ctf-zoom.svg</figcaption>"))
    #expect(html.contains("<th>Fitted defocus</th><td class=\"num\">5526.1</td>"))
    #expect(html.contains("50 numbers, from 0 to 0.49"))
    #expect(html.contains("<caption>Groups</caption>") && html.contains("<caption>Fits</caption>"))
    // Lists of objects with nested values: the scalars in a table, the nested parts item by item.
    #expect(html.contains("<h3>Runs: defocus</h3>") && html.contains("<caption>Phase</caption>"))
    #expect(html.contains("class=\"callout error\"") && html.contains("Reference at 0.98 Å/px matches no optics group"))
    #expect(html.contains("<dt>What to do</dt><dd>use the 1.00 map</dd>"))
    #expect(html.contains("1 error</span>"))
    // A section with its own summary keeps the raw values folded away (no script needed to open them).
    #expect(html.contains("<details>\n<summary>All values (01-ctf.json)</summary>"))
    #expect(html.contains("Cs and the voltage must be trusted."))
    #expect(html.range(of: "CTF curves")!.lowerBound < html.range(of: "Reference at 0.98")!.lowerBound)
}

@Test func testFolderReportErrors() throws {
    let dir = TemporaryDirectory("report-bad")
    #expect(throws: ReportError.nothingToReport(path: dir.path)) { try HTMLDirectoryReport.page(directory: dir.path) }
    #expect(throws: ReportError.notADirectory(path: dir.file("none"))) { try HTMLDirectoryReport.page(directory: dir.file("none")) }
    dir.write("a.json", "{\"x\": }")
    let e = #expect(throws: ReportError.self) { _ = try HTMLDirectoryReport.page(directory: dir.path) }
    #expect(e?.description.hasPrefix(dir.file("a.json") + ": not valid JSON: at byte 6") == true, "\(String(describing: e))")
}
