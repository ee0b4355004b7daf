// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Presentation of a pixel-size error simulation (text, JSON document, table, SVG plot), as
// `angpix ctf simulate` prints and writes it. `CtfSimulationReport.referenceCase()` runs the
// reference text's case (used by the demo).

import AngpixCore
import Foundation
import AngpixReport

/// The presentation of a pixel-size error simulation: summary sentences, a table, text and a plot.
public enum CtfSimulationReport {
    /// Runs the reference text's case (5000 Å, 2.7 mm, 300 kV, true 0.51 / nominal 0.54 Å/px, 30–3.5 Å).
    public static func referenceCase() throws -> PixelSizeErrorResult {
        var sim = PixelSizeErrorSimulation.referenceCase
        sim.curveMaxFrequency = defaultPlotMaxFrequency(trueAngpix: sim.trueAngpix)
        return try sim.run()
    }

    /// Plots run to 1.5 Å (past the reference text's 1.8 Å bump) or to Nyquist if that comes first.
    public static func defaultPlotMaxFrequency(trueAngpix: Double) -> Double {
        min(1 / 1.5, 1 / (2 * trueAngpix))
    }

    /// The JSON document of `angpix ctf simulate --json`.
    public struct JSONOutput: Encodable {
        /// Keys of the report folder convention (`angpix report DIR`): title, summary, tables, plots.
        var title: String
        var summary: [String]
        var tables: [ReportTable]
        var plots: [String]?
        var input: Input
        var wavelength: Double
        var exact: Exact
        var uncorrected: PhaseAgreement
        var fits: [CTFFitResult]
        var resolutionsAreAt: String
        var plot: String?
        struct Input: Encodable {
            var defocus, cs, voltage, amplitudeContrast, trueAngpix, nominalAngpix, fitFrom, fitTo, phaseTolerance: Double
        }
        struct Exact: Encodable { var defocus: Double; var cs: Double }

        public init(_ r: PixelSizeErrorResult, phaseTolerance: Double, plot: String?) {
            input = Input(defocus: r.defocus, cs: r.sphericalAberration, voltage: r.voltage,
                          amplitudeContrast: r.amplitudeContrast, trueAngpix: r.trueAngpix, nominalAngpix: r.nominalAngpix,
                          fitFrom: r.fitFrom, fitTo: r.fitTo, phaseTolerance: phaseTolerance)
            wavelength = r.wavelength
            exact = Exact(defocus: r.exactDefocus, cs: r.exactSphericalAberration)
            uncorrected = r.uncorrected
            fits = r.fits
            resolutionsAreAt = "true pixel size (nominalResolution: at the nominal pixel size)"
            self.plot = plot
            title = "CTF at a wrong pixel size"
            summary = CtfSimulationReport.summary(r, phaseTolerance: phaseTolerance)
            tables = [CtfSimulationReport.fitTable(r)]
            plots = plot.map { [($0 as NSString).lastPathComponent] }
        }
    }

    private static func describe(_ p: PhaseAgreement, tolerance: Double, nyquist: Double) -> [String] {
        var lines: [String] = []
        if let h = p.holdsTo {
            lines.append("in phase (error ≤ \(formatFixed(tolerance, decimals: 0, signedZero: false))°) up to \(formatFixed(h.resolution, decimals: 2, signedZero: false)) Å [\(formatFixed(h.nominalResolution, decimals: 2, signedZero: false)) Å nominal]")
        } else {
            lines.append("in phase (error ≤ \(formatFixed(tolerance, decimals: 0, signedZero: false))°) all the way to Nyquist (\(formatFixed(nyquist, decimals: 2, signedZero: false)) Å)")
        }
        if let o = p.outOfPhaseFrom {
            lines.append("out of phase from \(formatFixed(o.resolution, decimals: 2, signedZero: false)) Å [\(formatFixed(o.nominalResolution, decimals: 2, signedZero: false)) Å nominal]: the FSC drops")
        }
        if !p.backInPhase.isEmpty {
            let list = p.backInPhase.prefix(6).map { "\(formatFixed($0.resolution, decimals: 2, signedZero: false)) Å (\(formatFixed($0.frequency, decimals: 2, signedZero: false)) 1/Å)" }.joined(separator: ", ")
            let more = p.backInPhase.count > 6 ? ", …" : ""
            lines.append("back in phase at \(list)\(more): FSC bumps expected there")
        }
        return lines
    }

    /// A few sentences for a report: the case, the two fits and where they hold.
    public static func summary(_ r: PixelSizeErrorResult, phaseTolerance: Double) -> [String] {
        var out = ["A CTF at defocus \(formatFixed(r.defocus, decimals: 0, signedZero: false)) Å, Cs \(formatFixed(r.sphericalAberration, decimals: 2, signedZero: false)) mm, \(formatFixed(r.voltage, decimals: 0, signedZero: false)) kV, truly at \(formatTrimmed(r.trueAngpix, decimals: 4)) Å/px but fitted at the nominal \(formatTrimmed(r.nominalAngpix, decimals: 4)) Å/px over \(formatTrimmed(r.fitFrom, decimals: 4))–\(formatTrimmed(r.fitTo, decimals: 4)) Å."]
        for fit in r.fits {
            var s: String
            switch fit.mode {
            case .defocus: s = "Fitting the defocus alone gives \(formatFixed(fit.defocus, decimals: 1, signedZero: false)) Å"
            case .defocusAndCs: s = "Fitting defocus and Cs together gives \(formatFixed(fit.defocus, decimals: 1, signedZero: false)) Å and \(formatFixed(fit.sphericalAberration, decimals: 3, signedZero: false)) mm"
            }
            if let h = fit.phase.holdsTo { s += "; it holds up to \(formatFixed(h.resolution, decimals: 2, signedZero: false)) Å" } else { s += "; it holds to Nyquist" }
            if let o = fit.phase.outOfPhaseFrom { s += ", goes out of phase from \(formatFixed(o.resolution, decimals: 2, signedZero: false)) Å" }
            if let b = fit.phase.backInPhase.first { s += " and comes back into phase at \(formatFixed(b.resolution, decimals: 2, signedZero: false)) Å (an FSC bump)" }
            out.append(s + ".")
        }
        return out
    }

    /// The fits as a table for a report.
    public static func fitTable(_ r: PixelSizeErrorResult) -> ReportTable {
        var rows = [["true CTF", formatFixed(r.defocus, decimals: 1, signedZero: false), formatFixed(r.sphericalAberration, decimals: 3, signedZero: false), "-", "-", "-"]]
        rows.append(["exact absorption", formatFixed(r.exactDefocus, decimals: 1, signedZero: false), formatFixed(r.exactSphericalAberration, decimals: 3, signedZero: false), "-", "-", "-"])
        for fit in r.fits {
            rows.append(["fit " + fit.mode.rawValue, formatFixed(fit.defocus, decimals: 1, signedZero: false), formatFixed(fit.sphericalAberration, decimals: 3, signedZero: false),
                         fit.phase.holdsTo.map { formatFixed($0.resolution, decimals: 2, signedZero: false) } ?? "Nyquist",
                         fit.phase.outOfPhaseFrom.map { formatFixed($0.resolution, decimals: 2, signedZero: false) } ?? "-",
                         fit.phase.backInPhase.first.map { formatFixed($0.resolution, decimals: 2, signedZero: false) } ?? "-"])
        }
        return ReportTable(title: "Fits at the nominal pixel size (resolutions in Å at the true pixel size)",
                           columns: ["", "defocus (Å)", "Cs (mm)", "in phase to", "out of phase from", "back in phase at"],
                           rows: rows)
    }

    /// The human-readable report.
    public static func text(_ r: PixelSizeErrorResult, phaseTolerance: Double) -> String {
        let nyquist = 2 * r.trueAngpix
        let ratio = r.nominalAngpix / r.trueAngpix
        var o = ""
        o += "CTF at a wrong pixel size: defocus \(formatFixed(r.defocus, decimals: 1, signedZero: false)) Å, Cs \(formatFixed(r.sphericalAberration, decimals: 3, signedZero: false)) mm, \(formatFixed(r.voltage, decimals: 0, signedZero: false)) kV (λ = \(formatFixed(r.wavelength, decimals: 5, signedZero: false)) Å), Q0 \(formatFixed(r.amplitudeContrast, decimals: 2, signedZero: false))\n"
        o += "  true pixel size \(formatFixed(r.trueAngpix, decimals: 4, signedZero: false)) Å/px, nominal \(formatFixed(r.nominalAngpix, decimals: 4, signedZero: false)) Å/px (nominal/true = \(formatFixed(ratio, decimals: 4, signedZero: false)))\n"
        o += "  fitted at the nominal pixel size over \(formatFixed(r.fitFrom, decimals: 1, signedZero: false))–\(formatFixed(r.fitTo, decimals: 2, signedZero: false)) Å (least squares of the CTF)\n\n"
        o += "Without refitting (the true defocus and Cs used at the nominal pixel size):\n"
        for l in describe(r.uncorrected, tolerance: phaseTolerance, nyquist: nyquist) { o += "  \(l)\n" }
        for fit in r.fits {
            o += "\n"
            switch fit.mode {
            case .defocus:
                o += "Fit of the defocus (Cs fixed at \(formatFixed(fit.sphericalAberration, decimals: 3, signedZero: false)) mm):\n"
                o += "  defocus \(formatFixed(fit.defocus, decimals: 1, signedZero: false)) Å\n"
            case .defocusAndCs:
                o += "Fit of defocus and Cs together:\n"
                o += "  defocus \(formatFixed(fit.defocus, decimals: 1, signedZero: false)) Å, Cs \(formatFixed(fit.sphericalAberration, decimals: 3, signedZero: false)) mm\n"
                o += "  exact: \(formatFixed(r.defocus, decimals: 1, signedZero: false)) × (\(formatFixed(r.nominalAngpix, decimals: 4, signedZero: false))/\(formatFixed(r.trueAngpix, decimals: 4, signedZero: false)))² = \(formatFixed(r.exactDefocus, decimals: 1, signedZero: false)) Å, "
                o += "\(formatFixed(r.sphericalAberration, decimals: 3, signedZero: false)) × (\(formatFixed(r.nominalAngpix, decimals: 4, signedZero: false))/\(formatFixed(r.trueAngpix, decimals: 4, signedZero: false)))⁴ = \(formatFixed(r.exactSphericalAberration, decimals: 3, signedZero: false)) mm\n"
            }
            o += "  rms CTF residual \(formatSignificant(fit.rmsResidual, digits: 2)), largest phase error in the fit range \(formatFixed(fit.phase.maxPhaseErrorInFitRange, decimals: 1, signedZero: false))°\n"
            for l in describe(fit.phase, tolerance: phaseTolerance, nyquist: nyquist) { o += "  \(l)\n" }
        }
        o += "\nResolutions are at the true pixel size (at the nominal one in brackets). Within the in-phase\n"
        o += "range the pixel size can be corrected in PostProcess; beyond it, refine Cs (4th-order aberrations)\n"
        o += "and defocus in CtfRefine, and never edit the pixel size in the STAR file.\n"
        return o
    }

    /// The SVG plot: true, nominal and fitted CTFs against the true resolution.
    public static func plot(_ r: PixelSizeErrorResult) -> LinePlot {
        let c = r.curves
        var series = [
            PlotSeries(name: "true: \(formatTrimmed(r.trueAngpix, decimals: 4)) Å/px, \(formatTrimmed(r.defocus, decimals: 4)) Å, \(formatTrimmed(r.sphericalAberration, decimals: 4)) mm",
                       x: c.frequency, y: c.truth, colour: "#ff7f0e", lineWidth: 2),
            PlotSeries(name: "at nominal \(formatTrimmed(r.nominalAngpix, decimals: 4)) Å/px, no refit",
                       x: c.frequency, y: c.nominal, colour: "#1f77b4", lineWidth: 1.2),
        ]
        for (fit, curve) in zip(r.fits, c.fitted) {
            switch fit.mode {
            case .defocus:
                series.append(PlotSeries(name: "fit defocus: \(formatFixed(fit.defocus, decimals: 0, signedZero: false)) Å", x: c.frequency, y: curve,
                                         colour: "#2ca02c", lineWidth: 1.2))
            case .defocusAndCs:
                series.append(PlotSeries(name: "fit defocus+Cs: \(formatFixed(fit.defocus, decimals: 1, signedZero: false)) Å, \(formatFixed(fit.sphericalAberration, decimals: 3, signedZero: false)) mm",
                                         x: c.frequency, y: curve, colour: "#d62728", dashed: true, lineWidth: 1.2))
            }
        }
        var markers = [PlotMarker(x: r.trueAngpix / (r.nominalAngpix * r.fitTo), label: "fit to \(formatTrimmed(r.fitTo, decimals: 4)) Å nominal", colour: "#999999")]
        if let fit = r.fit(.defocus) {
            if let h = fit.phase.holdsTo { markers.append(PlotMarker(x: h.frequency, label: "in phase to \(formatFixed(h.resolution, decimals: 1, signedZero: false)) Å", colour: "#2ca02c")) }
            if let o = fit.phase.outOfPhaseFrom { markers.append(PlotMarker(x: o.frequency, label: "out \(formatFixed(o.resolution, decimals: 1, signedZero: false)) Å", colour: "#7f7f7f")) }
            if let b = fit.phase.backInPhase.first { markers.append(PlotMarker(x: b.frequency, label: "in phase again \(formatFixed(b.resolution, decimals: 1, signedZero: false)) Å", colour: "#9467bd")) }
        }
        var plot = LinePlot(title: "CTF at \(formatTrimmed(r.nominalAngpix, decimals: 4)) Å/px nominal, truly \(formatTrimmed(r.trueAngpix, decimals: 4)) Å/px",
                            xLabel: "Resolution (Å, at the true pixel size)", yLabel: "CTF",
                            series: series, markers: markers, xAxisIsResolution: true,
                            xRange: 0...(c.frequency.last ?? 1), yRange: -1.05...1.25)
        plot.legendPosition = .below
        plot.xTickCount = 10
        plot.width = 820
        return plot
    }
}
