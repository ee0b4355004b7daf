// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The plots of `refine magnification` for the HTML report: how each group's matrix distorts a
// circle of frequencies, exaggerated so that a 1 % distortion is visible.

import Foundation
import AngpixReport
import AngpixOptics

/// SVG plots of a magnification refinement.
public enum MagnificationPlots {
    /// The unit circle mapped by I + factor·(M − I) for each group's new matrix (and the old one dashed).
    public static func distortion(_ summary: MagnificationSummary, exaggeration factor: Double = 20) -> String {
        var series: [PlotSeries] = [PlotSeries(name: "no distortion", points: circle(.identity, 1), colour: "#999999", dashed: true)]
        for (i, g) in summary.groups.enumerated() {
            let colour = LinePlot.palette[i % LinePlot.palette.count]
            let m = Matrix2x2(g.newMatrix[0], g.newMatrix[1], g.newMatrix[2], g.newMatrix[3])
            series.append(PlotSeries(name: "group \(g.opticsGroup) (\(g.name))", points: circle(m, factor), colour: colour))
            let old = Matrix2x2(g.oldMatrix[0], g.oldMatrix[1], g.oldMatrix[2], g.oldMatrix[3])
            if old != m, old != .identity {
                series.append(PlotSeries(name: "group \(g.opticsGroup) before", points: circle(old, factor), colour: colour, dashed: true))
            }
        }
        let extent = series.flatMap { zip($0.x, $0.y).map { max(abs($0), abs($1)) } }.max() ?? 1.2
        let r = 1.05 * extent
        var plot = LinePlot(title: "Magnification: a circle of frequencies as each group sees it (distortion × \(Int(factor)))",
                            xLabel: "kx (relative)", yLabel: "ky (relative)", series: series,
                            xRange: -r...r, yRange: -r...r)
        plot.width = 560
        plot.height = 560
        return plot.svg()
    }

    static func circle(_ m: Matrix2x2, _ factor: Double) -> [(Double, Double)] {
        (0...120).map { i in
            let t = Double(i) * 2 * Double.pi / 120, x = cos(t), y = sin(t)
            let (mx, my) = m.apply(x, y)
            return (x + factor * (mx - x), y + factor * (my - y))
        }
    }
}
