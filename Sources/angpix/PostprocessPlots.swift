// SVG plots of a post-processing run (what RELION draws into postprocess_fsc.eps and
// postprocess_guinier.eps): the four FSC curves against 1/Å with the 0.143 line and the final
// resolution, and the Guinier plot (ln amplitude against 1/Å²) with the fitted line.

import Foundation
import AngpixCore
import AngpixReport
import AngpixPostprocess

/// Writes postprocess_fsc.svg and postprocess_guinier.svg into `directory`; returns their paths.
func writePostprocessPlots(_ r: PostprocessResult, directory: String, policy: OutputPolicy) throws -> [String] {
    let shells = Array(1..<r.fscCorrected.count)
    let x = shells.map { 1 / r.resolution(shell: $0) }
    var series = [PlotSeries(name: "corrected", x: x, y: shells.map { r.fscCorrected[$0] }, colour: "#000000", lineWidth: 2.5)]
    series.append(PlotSeries(name: "unmasked", x: x, y: shells.map { r.fscUnmasked[$0] }, colour: "#2ca02c"))
    if let m = r.fscMasked { series.append(PlotSeries(name: "masked", x: x, y: shells.map { m[$0] }, colour: "#1f77b4")) }
    if let p = r.fscRandomMasked { series.append(PlotSeries(name: "phase-randomised masked", x: x, y: shells.map { p[$0] }, colour: "#d62728")) }
    var fscPlot = LinePlot(title: String(format: "Final resolution = %.2f Å", r.finalResolutionShell > 0 ? r.finalResolution : 999),
                           xLabel: "resolution (Å)", yLabel: "Fourier shell correlation", series: series,
                           referenceLine: PlotReferenceLine(y: 0.143, label: "0.143"), xAxisIsResolution: true)
    if r.finalResolutionShell > 0 {
        fscPlot.markers = [PlotMarker(x: 1 / r.finalResolution, label: String(format: "%.2f Å", r.finalResolution))]
    }
    let valid = r.guinier.filter { $0.resolutionSquared > 0 }
    func curve(_ name: String, _ key: KeyPath<GuinierPoint, Double>, _ colour: String) -> PlotSeries {
        let pts = valid.filter { $0[keyPath: key] > -99 }
        return PlotSeries(name: name, x: pts.map(\.resolutionSquared), y: pts.map { $0[keyPath: key] }, colour: colour)
    }
    var gseries = [curve("original", \.original, "#000000"), curve("FSC-weighted", \.weighted, "#1f77b4")]
    if r.bFactor != 0 { gseries.append(curve(String(format: "sharpened (B = %.1f Å²)", r.bFactor), \.sharpened, "#d62728")) }
    if let fit = r.fit, let last = valid.last {
        gseries.append(PlotSeries(name: "fit", x: [0, last.resolutionSquared],
                                  y: [fit.intercept, fit.intercept + fit.slope * last.resolutionSquared],
                                  colour: "#7f7f7f", dashed: true))
    }
    let guinierPlot = LinePlot(title: "Guinier plot", xLabel: "resolution² (1/Å²)", yLabel: "ln(amplitude)", series: gseries)
    let fscPath = (directory as NSString).appendingPathComponent("postprocess_fsc.svg")
    let gPath = (directory as NSString).appendingPathComponent("postprocess_guinier.svg")
    try policy.check(fscPath); try policy.check(gPath)
    try writeFileAtomically(fscPlot.svg(), to: fscPath, policy: policy)
    try writeFileAtomically(guinierPlot.svg(), to: gPath, policy: policy)
    return [fscPath, gPath]
}
