// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The heat maps of the refinement plots (aberration phases, magnification displacements): a
// per-pixel quantity on an optics group's half-complex grid drawn on the full frequency plane
// (kx →, ky ↑, to Nyquist), the missing half mirrored (k → −k keeps the value, or flips its sign
// for an antisymmetric one), downsampled to at most `cells` × `cells` cells, drawn as one
// rectangle per run of equal colours along a row so the SVG stays small, on a diverging scale
// (blue −, white 0, red +) clipped at ± the panel's range. Pixels not shown (no weight) are grey.
// Panels sit side by side under one heading.

import Foundation
import AngpixReport

/// One panel of a heat-map row: a per-pixel quantity of one group's grid.
struct SpectrumHeatMapPanel {
    /// The panel's label (the range is appended).
    var label: String
    var grid: SpectrumGrid
    /// Half-complex layout (`grid.count` values).
    var values: [Double]
    /// Which pixels carry a value (the others are grey).
    var shown: [Bool]
    /// value(−k) = −value(k) (odd phases, displacement components); otherwise value(−k) = value(k).
    var antisymmetric: Bool
    /// The colour scale runs from −range (blue) to +range (red).
    var range: Double
}

/// Draws rows of heat maps of half-complex per-pixel quantities (see the file header).
enum SpectrumHeatMap {
    /// One SVG: the heading (and a second, smaller line under it), then the panels side by side,
    /// each `size` points square.
    static func svg(heading: String, subheading: String? = nil, panels: [SpectrumHeatMapPanel], cells: Int = 64,
                    size: Double = 220, rangeDecimals: Int = 2) -> String {
        let gap = 20.0, top = subheading == nil ? 50.0 : 68.0
        let width = gap + Double(panels.count) * (size + gap)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(top + size + 40))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<text x=\"\(gap)\" y=\"20\" font-size=\"14\">\(escapeXML(heading))</text>\n"
        if let subheading { svg += "<text x=\"\(gap)\" y=\"38\">\(escapeXML(subheading))</text>\n" }
        for (p, panel) in panels.enumerated() {
            let x0 = gap + Double(p) * (size + gap)
            let grid = panel.grid
            let n = min(cells, grid.boxSize)
            let hx = grid.boxSize / 2 + 1
            svg += "<text x=\"\(x0)\" y=\"\(top - 8)\">\(escapeXML(panel.label)) (±\(String(format: "%.\(rangeDecimals)f", panel.range)))</text>\n"
            let cell = size / Double(n)
            for cy in 0..<n {
                // One rectangle per run of cells of the same colour along the row.
                var run: (start: Int, count: Int, colour: String)? = nil
                func flush() {
                    guard let r = run else { return }
                    svg += "<rect x=\"\(fmt(x0 + Double(r.start) * cell))\" y=\"\(fmt(top + Double(cy) * cell))\" width=\"\(fmt(Double(r.count) * cell + 0.05))\" height=\"\(fmt(cell + 0.05))\" fill=\"\(r.colour)\"/>\n"
                    run = nil
                }
                for cx in 0..<n {
                    var fx = Int(((Double(cx) + 0.5) / Double(n) * Double(grid.boxSize)).rounded(.down)) - grid.boxSize / 2
                    var fy = grid.boxSize / 2 - Int(((Double(cy) + 0.5) / Double(n) * Double(grid.boxSize)).rounded(.down))
                    var sign = 1.0
                    if fx < 0 { fx = -fx; fy = -fy; if panel.antisymmetric { sign = -1 } }
                    guard fx < hx else { flush(); continue }
                    let row = (fy + grid.boxSize) % grid.boxSize
                    let i = row * hx + fx
                    let colour: String
                    if i >= grid.count || i >= panel.values.count || !panel.shown[i] { colour = "#dddddd" } else {
                        colour = diverging(sign * panel.values[i] / panel.range)
                    }
                    if let r = run, r.colour == colour { run!.count = r.count + 1 } else { flush(); run = (cx, 1, colour) }
                }
                flush()
            }
            svg += "<text x=\"\(x0)\" y=\"\(top + size + 16)\">kx →, ky ↑ (to Nyquist)</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// The largest |value| over the shown pixels, kept within [floor, ceiling].
    static func range(_ values: [Double], shown: [Bool], floor: Double, ceiling: Double = .infinity) -> Double {
        var r = 0.0
        for i in values.indices where shown[i] && values[i].isFinite { r = max(r, abs(values[i])) }
        return min(ceiling, max(r, floor))
    }

    static func fmt(_ v: Double) -> String { String(format: "%.2f", v) }

    /// Blue (−1) – white (0) – red (+1).
    static func diverging(_ t: Double) -> String {
        let v = max(-1, min(1, t.isFinite ? t : 0))
        let r, g, b: Double
        if v >= 0 { r = 1; g = 1 - v; b = 1 - v } else { r = 1 + v; g = 1 + v; b = 1 }
        return String(format: "#%02x%02x%02x", Int(r * 255), Int(g * 255), Int(b * 255))
    }
}
