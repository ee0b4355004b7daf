// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// SVG plots of a post-processing run (what RELION draws into postprocess_fsc.eps and
// postprocess_guinier.eps): the FSC curves against 1/Å with the 0.143 line and the final
// resolution, and the Guinier plot (ln amplitude against 1/Å²) with the fitted line.

import Foundation
import AngpixCore
import AngpixReport

extension PostprocessResult {
    /// The FSC plot: corrected, unmasked, masked and phase-randomised masked curves from shell 1 on.
    public func fscPlot() -> LinePlot {
        let shells = Array(1..<fscCorrected.count)
        let x = shells.map { 1 / resolution(shell: $0) }
        var series = [PlotSeries(name: "corrected", x: x, y: shells.map { fscCorrected[$0] }, colour: "#000000", lineWidth: 2.5)]
        series.append(PlotSeries(name: "unmasked", x: x, y: shells.map { fscUnmasked[$0] }, colour: "#2ca02c"))
        if let m = fscMasked { series.append(PlotSeries(name: "masked", x: x, y: shells.map { m[$0] }, colour: "#1f77b4")) }
        if let p = fscRandomMasked { series.append(PlotSeries(name: "phase-randomised masked", x: x, y: shells.map { p[$0] }, colour: "#d62728")) }
        var plot = LinePlot(title: "Final resolution = \(formatFixed(finalResolutionShell > 0 ? finalResolution : 999, decimals: 2)) Å",
                            xLabel: "resolution (Å)", yLabel: "Fourier shell correlation", series: series,
                            referenceLine: PlotReferenceLine(y: 0.143, label: "0.143"), xAxisIsResolution: true)
        if finalResolutionShell > 0 {
            plot.markers = [PlotMarker(x: 1 / finalResolution, label: "\(formatFixed(finalResolution, decimals: 2)) Å")]
        }
        return plot
    }

    /// The Guinier plot: original, FSC-weighted and sharpened ln(amplitude), and the fitted line.
    public func guinierPlot() -> LinePlot {
        let valid = guinier.filter { $0.resolutionSquared > 0 }
        func curve(_ name: String, _ key: KeyPath<GuinierPoint, Double>, _ colour: String) -> PlotSeries {
            let pts = valid.filter { $0[keyPath: key] > -99 }
            return PlotSeries(name: name, x: pts.map(\.resolutionSquared), y: pts.map { $0[keyPath: key] }, colour: colour)
        }
        var series = [curve("original", \.original, "#000000"), curve("FSC-weighted", \.weighted, "#1f77b4")]
        if bFactor != 0 { series.append(curve("sharpened (B = \(formatFixed(bFactor, decimals: 1)) Å²)", \.sharpened, "#d62728")) }
        if let fit, let last = valid.last {
            series.append(PlotSeries(name: "fit", x: [0, last.resolutionSquared],
                                     y: [fit.intercept, fit.intercept + fit.slope * last.resolutionSquared],
                                     colour: "#7f7f7f", dashed: true))
        }
        return LinePlot(title: "Guinier plot", xLabel: "resolution² (1/Å²)", yLabel: "ln(amplitude)", series: series)
    }

    /// Writes postprocess_fsc.svg and postprocess_guinier.svg into `directory`; returns their paths.
    public func writePlots(directory: String, policy: OutputPolicy) throws -> [String] {
        let fscPath = (directory as NSString).appendingPathComponent("postprocess_fsc.svg")
        let guinierPath = (directory as NSString).appendingPathComponent("postprocess_guinier.svg")
        try policy.check(fscPath); try policy.check(guinierPath)
        try writeFileAtomically(fscPlot().svg(), to: fscPath, policy: policy)
        try writeFileAtomically(guinierPlot().svg(), to: guinierPath, policy: policy)
        return [fscPath, guinierPath]
    }
}
