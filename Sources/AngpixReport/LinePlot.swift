// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// A line plot rendered as a self-contained SVG document (W3C SVG 1.1; no scripts, no external
// fonts or styles). The Report module knows nothing of the science: it draws series of (x, y)
// numbers, optional vertical markers, an optional horizontal reference line, and can label a
// spatial-frequency x axis (1/Å) as resolution in Å.

import Foundation

/// One named curve of a plot: points (x, y) joined by straight lines. Non-finite points break the line.
public struct PlotSeries: Sendable, Equatable {
    /// Name shown in the legend.
    public var name: String
    /// x values (same count as `y`; extra values of the longer array are ignored).
    public var x: [Double]
    /// y values.
    public var y: [Double]
    /// An SVG colour ("#1f77b4", "orange"); nil picks one from the default palette.
    public var colour: String?
    /// Draw the line dashed.
    public var dashed: Bool
    /// Line width in pixels.
    public var lineWidth: Double

    public init(name: String, x: [Double], y: [Double], colour: String? = nil, dashed: Bool = false, lineWidth: Double = 1.5) {
        self.name = name
        self.x = x
        self.y = y
        self.colour = colour
        self.dashed = dashed
        self.lineWidth = lineWidth
    }

    /// A series from (x, y) pairs.
    public init(name: String, points: [(Double, Double)], colour: String? = nil, dashed: Bool = false, lineWidth: Double = 1.5) {
        self.init(name: name, x: points.map(\.0), y: points.map(\.1), colour: colour, dashed: dashed, lineWidth: lineWidth)
    }
}

/// A vertical line across the plot at `x`, with a short label at its top.
public struct PlotMarker: Sendable, Equatable {
    public var x: Double
    public var label: String
    public var colour: String
    public init(x: Double, label: String, colour: String = "#7f7f7f") {
        self.x = x
        self.label = label
        self.colour = colour
    }
}

/// A horizontal reference line at `y` (for example FSC = 0.143), with a label at its right end.
public struct PlotReferenceLine: Sendable, Equatable {
    public var y: Double
    public var label: String
    public var colour: String
    public init(y: Double, label: String, colour: String = "#555555") {
        self.y = y
        self.label = label
        self.colour = colour
    }
}

/// Where a plot's legend is drawn.
public enum LegendPosition: Sendable {
    /// Inside the plot area, top right.
    case topRight
    /// Below the x axis label, one entry per row (the picture grows to fit it).
    case below
}

/// A 2D line plot with axes, ticks, a legend, markers and a reference line, rendered by `svg()`.
public struct LinePlot: Sendable {
    /// Title drawn above the plot (and used as the SVG `<title>`).
    public var title: String
    /// Label of the x axis.
    public var xLabel: String
    /// Label of the y axis.
    public var yLabel: String
    /// The curves, drawn in order (later ones on top).
    public var series: [PlotSeries]
    /// Vertical marker lines.
    public var markers: [PlotMarker] = []
    /// A horizontal reference line.
    public var referenceLine: PlotReferenceLine?
    /// Show a legend of the series names.
    public var showLegend: Bool = true
    /// Where the legend goes.
    public var legendPosition: LegendPosition = .topRight
    /// About how many ticks the x axis gets.
    public var xTickCount: Int = 6
    /// The x values are spatial frequencies (1/Å): ticks are placed at nice frequencies and
    /// labelled with the resolution 1/x in Å ("5.0", "3.3", …).
    public var xAxisIsResolution: Bool = false
    /// Fixed x range; nil fits the data (and markers).
    public var xRange: ClosedRange<Double>?
    /// Fixed y range; nil fits the data (and the reference line).
    public var yRange: ClosedRange<Double>?
    /// Size of the picture in pixels.
    public var width: Double = 720
    public var height: Double = 440

    /// Colours used for series without their own (matplotlib's "tab10").
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    public init(title: String, xLabel: String, yLabel: String, series: [PlotSeries] = [],
                markers: [PlotMarker] = [], referenceLine: PlotReferenceLine? = nil,
                showLegend: Bool = true, xAxisIsResolution: Bool = false,
                xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.markers = markers
        self.referenceLine = referenceLine
        self.showLegend = showLegend
        self.xAxisIsResolution = xAxisIsResolution
        self.xRange = xRange
        self.yRange = yRange
    }

    // MARK: layout

    private var left: Double { 72 }
    private var right: Double { width - 24 }
    private var top: Double { 44 }
    private var bottom: Double { height - 56 }
    private let legendRowHeight = 17.0
    /// Extra height below the plot for a legend placed below.
    private var legendHeight: Double {
        showLegend && legendPosition == .below && !series.isEmpty ? Double(series.count) * legendRowHeight + 12 : 0
    }

    /// The data ranges: given ones, or the finite data's extent (padded a little in y).
    func ranges() -> (x: ClosedRange<Double>, y: ClosedRange<Double>) {
        var xs: [Double] = [], ys: [Double] = []
        for s in series {
            for i in 0..<min(s.x.count, s.y.count) where s.x[i].isFinite && s.y[i].isFinite {
                xs.append(s.x[i]); ys.append(s.y[i])
            }
        }
        let xr: ClosedRange<Double>
        if let given = xRange, given.lowerBound.isFinite, given.upperBound.isFinite {
            xr = widen(given)
        } else {
            xs += markers.map(\.x).filter(\.isFinite)
            if xs.isEmpty { xr = xAxisIsResolution ? 0...0.5 : 0...1 }
            else { xr = widen(xs.min()!...xs.max()!) }
        }
        let yr: ClosedRange<Double>
        if let given = yRange, given.lowerBound.isFinite, given.upperBound.isFinite {
            yr = widen(given)
        } else {
            if let r = referenceLine, r.y.isFinite { ys.append(r.y) }
            if ys.isEmpty { yr = 0...1 } else {
                let lo = ys.min()!, hi = ys.max()!
                let pad = (hi - lo) * 0.05
                yr = widen((lo - pad)...(hi + pad))
            }
        }
        return (xr, yr)
    }

    private func widen(_ r: ClosedRange<Double>) -> ClosedRange<Double> {
        if r.upperBound > r.lowerBound { return r }
        let d = r.lowerBound == 0 ? 1 : abs(r.lowerBound) * 0.1
        return (r.lowerBound - d)...(r.upperBound + d)
    }

    // MARK: rendering

    /// The plot as a complete, standalone SVG document.
    public func svg() -> String {
        let (xr, yr) = ranges()
        let px = { (x: Double) -> Double in self.left + (x - xr.lowerBound) / (xr.upperBound - xr.lowerBound) * (self.right - self.left) }
        let py = { (y: Double) -> Double in self.bottom - (y - yr.lowerBound) / (yr.upperBound - yr.lowerBound) * (self.bottom - self.top) }
        let clipID = "plotarea"
        let totalHeight = height + legendHeight
        var o = ""
        o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        o += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(svgNumber(width))\" height=\"\(svgNumber(totalHeight))\" viewBox=\"0 0 \(svgNumber(width)) \(svgNumber(totalHeight))\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n"
        o += "<title>\(escapeXML(title))</title>\n"
        o += "<defs><clipPath id=\"\(clipID)\"><rect x=\"\(svgNumber(left))\" y=\"\(svgNumber(top))\" width=\"\(svgNumber(right - left))\" height=\"\(svgNumber(bottom - top))\"/></clipPath></defs>\n"
        o += "<rect x=\"0\" y=\"0\" width=\"\(svgNumber(width))\" height=\"\(svgNumber(totalHeight))\" fill=\"white\"/>\n"
        o += "<text class=\"title\" x=\"\(svgNumber(width / 2))\" y=\"26\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">\(escapeXML(title))</text>\n"

        // Grid and ticks.
        let xt = xAxisIsResolution ? resolutionTicks(xr.lowerBound, xr.upperBound, count: xTickCount)
                                   : linearTicks(xr.lowerBound, xr.upperBound, count: xTickCount)
        let yt = linearTicks(yr.lowerBound, yr.upperBound)
        o += "<g class=\"grid\" stroke=\"#e5e5e5\" stroke-width=\"1\">\n"
        for v in xt.values { o += "<line x1=\"\(svgNumber(px(v)))\" y1=\"\(svgNumber(top))\" x2=\"\(svgNumber(px(v)))\" y2=\"\(svgNumber(bottom))\"/>\n" }
        for v in yt.values { o += "<line x1=\"\(svgNumber(left))\" y1=\"\(svgNumber(py(v)))\" x2=\"\(svgNumber(right))\" y2=\"\(svgNumber(py(v)))\"/>\n" }
        o += "</g>\n"
        o += "<g class=\"axes\" stroke=\"black\" stroke-width=\"1\" fill=\"none\"><rect x=\"\(svgNumber(left))\" y=\"\(svgNumber(top))\" width=\"\(svgNumber(right - left))\" height=\"\(svgNumber(bottom - top))\"/></g>\n"
        o += "<g class=\"xticks\" text-anchor=\"middle\">\n"
        for (v, label) in zip(xt.values, xt.labels) {
            o += "<line x1=\"\(svgNumber(px(v)))\" y1=\"\(svgNumber(bottom))\" x2=\"\(svgNumber(px(v)))\" y2=\"\(svgNumber(bottom + 5))\" stroke=\"black\"/>"
            o += "<text x=\"\(svgNumber(px(v)))\" y=\"\(svgNumber(bottom + 18))\">\(escapeXML(label))</text>\n"
        }
        o += "</g>\n"
        o += "<g class=\"yticks\" text-anchor=\"end\">\n"
        for (v, label) in zip(yt.values, yt.labels) {
            o += "<line x1=\"\(svgNumber(left - 5))\" y1=\"\(svgNumber(py(v)))\" x2=\"\(svgNumber(left))\" y2=\"\(svgNumber(py(v)))\" stroke=\"black\"/>"
            o += "<text x=\"\(svgNumber(left - 8))\" y=\"\(svgNumber(py(v) + 4))\">\(escapeXML(label))</text>\n"
        }
        o += "</g>\n"
        o += "<text class=\"xlabel\" x=\"\(svgNumber((left + right) / 2))\" y=\"\(svgNumber(height - 14))\" text-anchor=\"middle\" font-size=\"13\">\(escapeXML(xLabel))</text>\n"
        let ly = (top + bottom) / 2
        o += "<text class=\"ylabel\" x=\"18\" y=\"\(svgNumber(ly))\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 18 \(svgNumber(ly)))\">\(escapeXML(yLabel))</text>\n"

        // Reference line and markers.
        if let r = referenceLine, r.y.isFinite, yr.contains(r.y) {
            let y = py(r.y)
            o += "<g class=\"reference\"><line x1=\"\(svgNumber(left))\" y1=\"\(svgNumber(y))\" x2=\"\(svgNumber(right))\" y2=\"\(svgNumber(y))\" stroke=\"\(escapeXML(r.colour))\" stroke-dasharray=\"6 4\"/>"
            o += "<text x=\"\(svgNumber(right - 4))\" y=\"\(svgNumber(y - 4))\" text-anchor=\"end\" fill=\"\(escapeXML(r.colour))\">\(escapeXML(r.label))</text></g>\n"
        }
        for (index, m) in markers.filter({ $0.x.isFinite && xr.contains($0.x) }).enumerated() {
            let x = px(m.x)
            let labelY = top + 12 + 13 * Double(index % 3)
            o += "<g class=\"marker\"><line x1=\"\(svgNumber(x))\" y1=\"\(svgNumber(top))\" x2=\"\(svgNumber(x))\" y2=\"\(svgNumber(bottom))\" stroke=\"\(escapeXML(m.colour))\" stroke-dasharray=\"3 3\"/>"
            o += "<text x=\"\(svgNumber(x + 3))\" y=\"\(svgNumber(labelY))\" fill=\"\(escapeXML(m.colour))\" font-size=\"11\">\(escapeXML(m.label))</text></g>\n"
        }

        // Series.
        o += "<g class=\"series\" clip-path=\"url(#\(clipID))\" fill=\"none\" stroke-linejoin=\"round\">\n"
        for (i, s) in series.enumerated() {
            let colour = s.colour ?? Self.palette[i % Self.palette.count]
            var d = ""
            var penDown = false
            for k in 0..<min(s.x.count, s.y.count) {
                let x = s.x[k], y = s.y[k]
                guard x.isFinite, y.isFinite else { penDown = false; continue }
                // Clamp far-away points so coordinates stay printable; the clip path hides them.
                let sx = min(max(px(x), -1e5), 1e5), sy = min(max(py(y), -1e5), 1e5)
                d += (penDown ? "L" : (d.isEmpty ? "M" : " M")) + svgNumber(sx) + "," + svgNumber(sy)
                penDown = true
            }
            let dash = s.dashed ? " stroke-dasharray=\"7 4\"" : ""
            o += "<path data-series=\"\(escapeXML(s.name))\" d=\"\(d.isEmpty ? "M0,0" : d)\" stroke=\"\(escapeXML(colour))\" stroke-width=\"\(svgNumber(s.lineWidth))\"\(dash)\(d.isEmpty ? " visibility=\"hidden\"" : "")><title>\(escapeXML(s.name))</title></path>\n"
        }
        o += "</g>\n"

        // Legend.
        if showLegend && !series.isEmpty {
            let rowHeight = legendRowHeight
            let maxName = series.map { $0.name.count }.max() ?? 0
            let boxWidth = min(right - left - 10, 40 + Double(maxName) * 6.6)
            let below = legendPosition == .below
            let boxX = below ? left : right - boxWidth - 8
            let boxY = below ? height : top + 8
            o += "<g class=\"legend\">\n"
            o += "<rect x=\"\(svgNumber(boxX))\" y=\"\(svgNumber(boxY))\" width=\"\(svgNumber(boxWidth))\" height=\"\(svgNumber(Double(series.count) * rowHeight + 8))\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#cccccc\"/>\n"
            for (i, s) in series.enumerated() {
                let colour = s.colour ?? Self.palette[i % Self.palette.count]
                let y = boxY + 4 + rowHeight * (Double(i) + 0.5)
                let dash = s.dashed ? " stroke-dasharray=\"7 4\"" : ""
                o += "<line x1=\"\(svgNumber(boxX + 6))\" y1=\"\(svgNumber(y))\" x2=\"\(svgNumber(boxX + 30))\" y2=\"\(svgNumber(y))\" stroke=\"\(escapeXML(colour))\" stroke-width=\"2\"\(dash)/>"
                o += "<text x=\"\(svgNumber(boxX + 36))\" y=\"\(svgNumber(y + 4))\">\(escapeXML(s.name))</text>\n"
            }
            o += "</g>\n"
        }
        o += "</svg>\n"
        return o
    }
}
