// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The plots of `refine magnification` for the HTML report: how each group's matrix distorts a
// circle of frequencies, exaggerated so that a 1 % distortion is visible; and per group the
// displacement field of the first pass (at the file's matrix), per pixel as the fit used it
// (A⁻¹ b of the shell-matched sums, RELION's mag_disp images) beside the fitted d = D k, drawn as
// the radial displacement relative to the frequency, 100 · (k · d) / |k|² in %: the local change
// of magnification, uniform for a pixel-size error (−2 % for pixels truly 2 % larger than the
// reference's), a four-lobed pattern for an anisotropy.

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

    /// One group's displacement fields of one pass, for the plot.
    public struct DisplacementPlotData: Sendable {
        /// Per pixel A⁻¹ b of the shell-matched sums (what the fit used; 1/Å).
        public var perPixel: DisplacementField
        /// The fitted d = D k (1/Å).
        public var fitted: DisplacementField
        /// Pixels with weight (the others are grey).
        public var shown: [Bool]
        /// The fit of this pass.
        public var estimate: MagnificationEstimate
    }

    /// The fields of one group's sums solved from `previousMatrix` (the matrix the pass predicted at).
    public static func displacementData(_ sums: MagnificationSums, previousMatrix: Matrix2x2 = .identity) throws -> DisplacementPlotData {
        let estimate = try MagnificationEstimator.solve(sums, previousMatrix: previousMatrix)
        let perPixel = MagnificationEstimator.perPixelDisplacement(MagnificationEstimator.shellMatched(sums))
        let shown = (0..<sums.grid.count).map { i in
            let det = sums.axx[i] * sums.ayy[i] - sums.axy[i] * sums.axy[i]
            return det > 0 && det.isFinite
        }
        return DisplacementPlotData(perPixel: perPixel, fitted: MagnificationEstimator.fittedDisplacement(estimate, grid: sums.grid),
                                    shown: shown, estimate: estimate)
    }

    /// 100 · (k · d) / |k|² per pixel (%): the displacement along k relative to |k| (0 at k = 0).
    public static func radialPercent(_ field: DisplacementField) -> [Double] {
        (0..<field.grid.count).map { i in
            let k = field.grid.frequency(ofIndex: i)
            let k2 = k.x * k.x + k.y * k.y
            return k2 > 0 ? 100 * (k.x * field.x[i] + k.y * field.y[i]) / k2 : 0
        }
    }

    /// The per-pixel and the fitted radial displacement (%) of one group side by side, on one
    /// colour scale (the largest |fitted| value, at least 0.1 %).
    public static func displacement(_ data: DisplacementPlotData, title: String, cells: Int = 64) -> String {
        let measured = radialPercent(data.perPixel), fitted = radialPercent(data.fitted)
        let range = SpectrumHeatMap.range(fitted, shown: data.shown, floor: 0.1)
        let grid = data.fitted.grid
        return SpectrumHeatMap.svg(
            heading: title,
            subheading: "radial displacement of the frequencies, 100·(k·d)/|k|² (%): blue −, red +, grey no weight",
            panels: [SpectrumHeatMapPanel(label: "per pixel, as the fit used it", grid: grid, values: measured,
                                          shown: data.shown, antisymmetric: false, range: range),
                     SpectrumHeatMapPanel(label: "fitted d = D k", grid: grid, values: fitted,
                                          shown: data.shown, antisymmetric: false, range: range)],
            cells: cells)
    }

    /// The file name of group `opticsGroup`'s displacement plot in OUTDIR.
    public static func displacementFileName(opticsGroup: Int) -> String { "magnification_displacement_group\(opticsGroup).svg" }

    /// Each group's displacement plot (file name, SVG) from one pass's sums, solved from the
    /// matrices that pass predicted at (`previous`, by group number); groups with fewer than
    /// `minimumParticles` or singular sums have none.
    public static func displacementPlots(_ sums: MagnificationAccumulator, groups: [(number: Int, name: String, previous: Matrix2x2)],
                                         minimumParticles: Int) -> [(file: String, svg: String)] {
        var out: [(String, String)] = []
        for g in groups {
            guard let halves = sums.groups[g.number] else { continue }
            let all = halves[0] + halves[1]
            guard all.particleCount >= minimumParticles, let data = try? displacementData(all, previousMatrix: g.previous) else { continue }
            out.append((displacementFileName(opticsGroup: g.number),
                        displacement(data, title: "Optics group \(g.number) (\(g.name)), \(all.particleCount) particles: first pass")))
        }
        return out
    }
}
