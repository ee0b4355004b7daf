// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the SVG line plot: well-formed XML, one path per series, resolution axis labels,
// escaping, and robustness to NaN and empty series.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import AngpixReport

/// Parses an SVG with XMLParser and records element names, attributes and text.
final class SVGInspector: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    private var current = ""
    var error: Error?

    static func parse(_ svg: String) -> SVGInspector {
        let inspector = SVGInspector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = inspector
        if !parser.parse() { inspector.error = parser.parserError ?? NSError(domain: "xml", code: 1) }
        return inspector
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        elements.append((elementName, attributeDict))
        current = ""
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }
    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        let t = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !t.isEmpty { texts.append(t) }
        current = ""
    }
    func parseErrorOccurred(_ parser: XMLParser, parseError: Error) { error = parseError }

    var paths: [[String: String]] { elements.filter { $0.name == "path" }.map(\.attributes) }
}

private func sine(_ n: Int = 200) -> (x: [Double], y: [Double]) {
    let x = (0..<n).map { Double($0) / Double(n - 1) * 0.5 }
    return (x, x.map { sin(40 * $0) })
}

@Test func testPlotIsWellFormedSVGWithTitleAndOnePathPerSeries() {
    let (x, y) = sine()
    let plot = LinePlot(title: "CTF at 0.54 Å/px", xLabel: "Resolution (Å)", yLabel: "CTF",
                        series: [PlotSeries(name: "true", x: x, y: y),
                                 PlotSeries(name: "nominal", x: x, y: y.map { -$0 }, dashed: true),
                                 PlotSeries(name: "fitted", x: x, y: y.map { $0 * 0.5 }, colour: "green")])
    let svg = plot.svg()
    let doc = SVGInspector.parse(svg)
    #expect(doc.error == nil)
    #expect(doc.elements.first?.name == "svg")
    #expect(doc.elements.first?.attributes["xmlns"] == "http://www.w3.org/2000/svg")
    #expect(doc.paths.count == 3)
    #expect(doc.paths.map { $0["data-series"] ?? "" } == ["true", "nominal", "fitted"])
    #expect(doc.paths[2]["stroke"] == "green")
    #expect(doc.paths[1]["stroke-dasharray"] != nil)
    #expect(doc.texts.contains("CTF at 0.54 Å/px"))
    #expect(doc.texts.contains("Resolution (Å)"))
    #expect(doc.texts.contains("CTF"))
    // The legend names every series.
    for name in ["true", "nominal", "fitted"] { #expect(doc.texts.contains(name)) }
}

@Test func testResolutionAxisLabelsTicksInAngstrom() {
    let (x, y) = sine()
    var plot = LinePlot(title: "t", xLabel: "Resolution (Å)", yLabel: "y",
                        series: [PlotSeries(name: "s", x: x, y: y)], xAxisIsResolution: true)
    plot.xRange = 0...0.5
    let doc = SVGInspector.parse(plot.svg())
    #expect(doc.error == nil)
    // Ticks at 0.1, 0.2, 0.3, 0.4, 0.5 1/Å read 10.0, 5.0, 3.3, 2.5, 2.0 Å; frequency 0 has no label.
    for label in ["10.0", "5.0", "3.3", "2.5", "2.0"] { #expect(doc.texts.contains(label), "missing \(label)") }
    #expect(resolutionTicks(0, 0.5).labels == ["10.0", "5.0", "3.3", "2.5", "2.0"])
    #expect(!doc.texts.contains("inf"))
}

@Test func testLinearTicksAreNiceNumbers() {
    let t = linearTicks(0, 1)
    #expect(t.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
    let u = linearTicks(-1, 1)
    #expect(u.values.contains(0))
    #expect(u.labels.first == "-1.0")
    let w = linearTicks(0, 10)
    #expect(w.labels.contains("2.5") || w.labels.contains("2"))
}

@Test func testMarkersAndReferenceLineAreDrawnWithLabels() {
    let (x, y) = sine()
    let plot = LinePlot(title: "FSC", xLabel: "Resolution (Å)", yLabel: "FSC",
                        series: [PlotSeries(name: "corrected", x: x, y: y)],
                        markers: [PlotMarker(x: 1 / 3.3, label: "3.3 Å"), PlotMarker(x: 1 / 1.8, label: "outside")],
                        referenceLine: PlotReferenceLine(y: 0.143, label: "FSC = 0.143"),
                        xAxisIsResolution: true, xRange: 0...0.5, yRange: -1...1)
    let doc = SVGInspector.parse(plot.svg())
    #expect(doc.error == nil)
    #expect(doc.texts.contains("3.3 Å"))
    #expect(doc.texts.contains("FSC = 0.143"))
    // A marker outside the fixed x range is not drawn.
    #expect(!doc.texts.contains("outside"))
    let groups = doc.elements.filter { $0.name == "g" }.compactMap { $0.attributes["class"] }
    #expect(groups.contains("marker"))
    #expect(groups.contains("reference"))
}

@Test func testSpecialCharactersInNamesAreEscaped() {
    let nasty = "a<b & \"c\" 'd' > e\u{1}"
    let plot = LinePlot(title: nasty, xLabel: "<x>", yLabel: "&y",
                        series: [PlotSeries(name: nasty, x: [0, 1], y: [0, 1], colour: "red\"/><script>")],
                        markers: [PlotMarker(x: 0.5, label: "</text>")])
    let svg = plot.svg()
    #expect(!svg.contains("<script>"))
    let doc = SVGInspector.parse(svg)
    #expect(doc.error == nil)
    #expect(doc.texts.contains("a<b & \"c\" 'd' > e"))
    #expect(doc.texts.contains("</text>"))
    #expect(doc.paths.first?["data-series"] == "a<b & \"c\" 'd' > e")
}

@Test func testNaNAndEmptySeriesDoNotBreakThePlot() {
    let x = [0.0, 0.1, 0.2, 0.3, 0.4]
    let y = [1.0, .nan, 0.5, .infinity, 0.2]
    let plot = LinePlot(title: "gaps", xLabel: "x", yLabel: "y",
                        series: [PlotSeries(name: "gappy", x: x, y: y),
                                 PlotSeries(name: "empty", x: [], y: []),
                                 PlotSeries(name: "all nan", x: [.nan, .nan], y: [.nan, 1])])
    let svg = plot.svg()
    let doc = SVGInspector.parse(svg)
    #expect(doc.error == nil)
    #expect(doc.paths.count == 3)
    for p in doc.paths { #expect(!(p["d"] ?? "").lowercased().contains("nan")) }
    let d = doc.paths[0]["d"] ?? ""
    // The NaN and infinity break the line into three pieces, each started by a move.
    #expect(d.filter { $0 == "M" }.count == 3)
    #expect(!d.contains("nan") && !d.contains("inf"))
    #expect(doc.paths[1]["visibility"] == "hidden")
}

@Test func testPlotWithNoSeriesOrFlatDataStillRenders() {
    let empty = LinePlot(title: "nothing", xLabel: "x", yLabel: "y")
    #expect(SVGInspector.parse(empty.svg()).error == nil)
    let flat = LinePlot(title: "flat", xLabel: "x", yLabel: "y",
                        series: [PlotSeries(name: "c", x: [1, 1, 1], y: [2, 2, 2])], xAxisIsResolution: true)
    let doc = SVGInspector.parse(flat.svg())
    #expect(doc.error == nil)
    #expect(doc.paths.count == 1)
}

@Test func testEscapeXMLReplacesAllFiveSpecialCharacters() {
    #expect(escapeXML("<&>\"'") == "&lt;&amp;&gt;&quot;&apos;")
    #expect(escapeXML("Å λ\u{0}\u{8}") == "Å λ")
}

@Test func testLegendBelowGrowsThePictureAndKeepsEveryName() {
    let (x, y) = sine()
    var plot = LinePlot(title: "below", xLabel: "x", yLabel: "y",
                        series: [PlotSeries(name: "one", x: x, y: y), PlotSeries(name: "two", x: x, y: y)])
    plot.legendPosition = .below
    plot.xTickCount = 10
    let doc = SVGInspector.parse(plot.svg())
    #expect(doc.error == nil)
    let svgAttributes = doc.elements.first!.attributes
    #expect(Double(svgAttributes["height"] ?? "") ?? 0 > plot.height)
    #expect(doc.texts.contains("one") && doc.texts.contains("two"))
    // Ten ticks asked for: more x tick labels than the default six.
    let defaultPlot = LinePlot(title: "t", xLabel: "x", yLabel: "y", series: [PlotSeries(name: "s", x: x, y: y)])
    #expect(linearTicks(0, 0.66, count: 10).values.count > linearTicks(0, 0.66, count: defaultPlot.xTickCount).values.count)
}
