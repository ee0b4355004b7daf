// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The plots of `refine aberrations` for the report: per optics group, the per-pixel phase errors
// the fits used (even: δ = atan2(v, u); odd: arg Σ conj(t f) y) beside the fitted Zernike surfaces,
// on the full frequency plane (the half-complex grid mirrored: even phases are symmetric, odd ones
// antisymmetric), downsampled to at most 64 × 64 cells so the SVG stays small. Pixels without
// weight are grey.

import Foundation
import AngpixReport

/// What one group's plot shows (half-complex layout of its grid).
public struct AberrationPlotData: Sendable, Equatable {
    public var evenMeasured: PhaseImage?
    public var evenFitted: [Double]?
    public var oddMeasured: PhaseImage?
    public var oddFitted: [Double]?

    public init() {}
}

/// SVG plots of an aberration refinement.
public enum AberrationPlots {
    /// The four panels (measured and fitted, even and odd) of one group; missing fits are left out.
    public static func phases(_ data: AberrationPlotData, title: String, cells: Int = 64) -> String {
        var panels: [(String, PhaseImage, [Double], Bool)] = []
        if let m = data.evenMeasured, let f = data.evenFitted {
            panels.append(("even: per-pixel phase error", m, m.phase, false))
            panels.append(("even: fitted Zernike surface", m, f, false))
        }
        if let m = data.oddMeasured, let f = data.oddFitted {
            panels.append(("odd: per-pixel phase error", m, m.phase, true))
            panels.append(("odd: fitted Zernike surface", m, f, true))
        }
        let size = 220.0, gap = 20.0, top = 50.0
        let width = gap + Double(panels.count) * (size + gap)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(top + size + 40))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<text x=\"\(gap)\" y=\"20\" font-size=\"14\">\(escapeXML(title)): phase (rad), blue −, red +, grey no weight</text>\n"
        for (p, panel) in panels.enumerated() {
            let (label, image, values, odd) = panel
            let x0 = gap + Double(p) * (size + gap)
            let grid = image.grid
            let n = min(cells, grid.boxSize)
            let hx = grid.boxSize / 2 + 1
            // The colour scale: the largest |phase| of the fitted surface (or π), for both panels of a pair.
            let fitted = p % 2 == 1 ? values : panels[p + 1].2
            var range = 0.0
            for i in 0..<grid.count where image.weight[i] > 0 { range = max(range, abs(fitted[i])) }
            range = min(Double.pi, max(range, 1e-3))
            svg += "<text x=\"\(x0)\" y=\"\(top - 8)\">\(escapeXML(label)) (±\(String(format: "%.2f", range)))</text>\n"
            let cell = size / Double(n)
            for cy in 0..<n {
                for cx in 0..<n {
                    var fx = Int(((Double(cx) + 0.5) / Double(n) * Double(grid.boxSize)).rounded(.down)) - grid.boxSize / 2
                    var fy = grid.boxSize / 2 - Int(((Double(cy) + 0.5) / Double(n) * Double(grid.boxSize)).rounded(.down))
                    var sign = 1.0
                    if fx < 0 { fx = -fx; fy = -fy; if odd { sign = -1 } }
                    guard fx < hx else { continue }
                    let row = (fy + grid.boxSize) % grid.boxSize
                    let i = row * hx + fx
                    let colour: String
                    if i >= grid.count || image.weight[i] <= 0 { colour = "#dddddd" } else { colour = diverging(sign * values[i] / range) }
                    svg += "<rect x=\"\(fmt(x0 + Double(cx) * cell))\" y=\"\(fmt(top + Double(cy) * cell))\" width=\"\(fmt(cell + 0.05))\" height=\"\(fmt(cell + 0.05))\" fill=\"\(colour)\"/>\n"
                }
            }
            svg += "<text x=\"\(x0)\" y=\"\(top + size + 16)\">kx →, ky ↑ (to Nyquist)</text>\n"
        }
        svg += "</svg>\n"
        return svg
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
