// Presentation of a pixel-size error simulation (text, JSON, SVG plot). Also the entry point the
// demo uses: `CtfSimulationReport.referenceCase()` runs the reference text's case.

import Foundation
import AngpixOptics
import AngpixReport

enum CtfSimulationReport {
    /// Runs the reference text's case (5000 Å, 2.7 mm, 300 kV, true 0.51 / nominal 0.54 Å/px, 30–3.5 Å).
    static func referenceCase() throws -> PixelSizeErrorResult {
        var sim = PixelSizeErrorSimulation.referenceCase
        sim.curveMaxFrequency = defaultPlotMaxFrequency(trueAngpix: sim.trueAngpix)
        return try sim.run()
    }

    /// Plots run to 1.5 Å (past the reference text's 1.8 Å bump) or to Nyquist if that comes first.
    static func defaultPlotMaxFrequency(trueAngpix: Double) -> Double {
        min(1 / 1.5, 1 / (2 * trueAngpix))
    }

    /// The JSON document of `angpix ctf simulate --json`.
    struct JSONOutput: Encodable {
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

        init(_ r: PixelSizeErrorResult, phaseTolerance: Double, plot: String?) {
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

    private static func f(_ v: Double, _ decimals: Int) -> String {
        // No "-0.000" for a fitted value that is zero within rounding.
        let shown = abs(v) < 0.5 * pow(10, -Double(decimals)) ? 0 : v
        return String(format: "%.\(decimals)f", shown)
    }

    private static func describe(_ p: PhaseAgreement, tolerance: Double, nyquist: Double) -> [String] {
        var lines: [String] = []
        if let h = p.holdsTo {
            lines.append("in phase (error ≤ \(f(tolerance, 0))°) up to \(f(h.resolution, 2)) Å [\(f(h.nominalResolution, 2)) Å nominal]")
        } else {
            lines.append("in phase (error ≤ \(f(tolerance, 0))°) all the way to Nyquist (\(f(nyquist, 2)) Å)")
        }
        if let o = p.outOfPhaseFrom {
            lines.append("out of phase from \(f(o.resolution, 2)) Å [\(f(o.nominalResolution, 2)) Å nominal]: the FSC drops")
        }
        if !p.backInPhase.isEmpty {
            let list = p.backInPhase.prefix(6).map { "\(f($0.resolution, 2)) Å (\(f($0.frequency, 2)) 1/Å)" }.joined(separator: ", ")
            let more = p.backInPhase.count > 6 ? ", …" : ""
            lines.append("back in phase at \(list)\(more): FSC bumps expected there")
        }
        return lines
    }

    /// A few sentences for a report: the case, the two fits and where they hold.
    static func summary(_ r: PixelSizeErrorResult, phaseTolerance: Double) -> [String] {
        var out = ["A CTF at defocus \(f(r.defocus, 0)) Å, Cs \(f(r.sphericalAberration, 2)) mm, \(f(r.voltage, 0)) kV, truly at \(fmt(r.trueAngpix)) Å/px but fitted at the nominal \(fmt(r.nominalAngpix)) Å/px over \(fmt(r.fitFrom))–\(fmt(r.fitTo)) Å."]
        for fit in r.fits {
            var s: String
            switch fit.mode {
            case .defocus: s = "Fitting the defocus alone gives \(f(fit.defocus, 1)) Å"
            case .defocusAndCs: s = "Fitting defocus and Cs together gives \(f(fit.defocus, 1)) Å and \(f(fit.sphericalAberration, 3)) mm"
            }
            if let h = fit.phase.holdsTo { s += "; it holds up to \(f(h.resolution, 2)) Å" } else { s += "; it holds to Nyquist" }
            if let o = fit.phase.outOfPhaseFrom { s += ", goes out of phase from \(f(o.resolution, 2)) Å" }
            if let b = fit.phase.backInPhase.first { s += " and comes back into phase at \(f(b.resolution, 2)) Å (an FSC bump)" }
            out.append(s + ".")
        }
        return out
    }

    /// The fits as a table for a report.
    static func fitTable(_ r: PixelSizeErrorResult) -> ReportTable {
        var rows = [["true CTF", f(r.defocus, 1), f(r.sphericalAberration, 3), "-", "-", "-"]]
        rows.append(["exact absorption", f(r.exactDefocus, 1), f(r.exactSphericalAberration, 3), "-", "-", "-"])
        for fit in r.fits {
            rows.append(["fit " + fit.mode.rawValue, f(fit.defocus, 1), f(fit.sphericalAberration, 3),
                         fit.phase.holdsTo.map { f($0.resolution, 2) } ?? "Nyquist",
                         fit.phase.outOfPhaseFrom.map { f($0.resolution, 2) } ?? "-",
                         fit.phase.backInPhase.first.map { f($0.resolution, 2) } ?? "-"])
        }
        return ReportTable(title: "Fits at the nominal pixel size (resolutions in Å at the true pixel size)",
                           columns: ["", "defocus (Å)", "Cs (mm)", "in phase to", "out of phase from", "back in phase at"],
                           rows: rows)
    }

    /// The human-readable report.
    static func text(_ r: PixelSizeErrorResult, phaseTolerance: Double) -> String {
        let nyquist = 2 * r.trueAngpix
        let ratio = r.nominalAngpix / r.trueAngpix
        var o = ""
        o += "CTF at a wrong pixel size: defocus \(f(r.defocus, 1)) Å, Cs \(f(r.sphericalAberration, 3)) mm, \(f(r.voltage, 0)) kV (λ = \(f(r.wavelength, 5)) Å), Q0 \(f(r.amplitudeContrast, 2))\n"
        o += "  true pixel size \(f(r.trueAngpix, 4)) Å/px, nominal \(f(r.nominalAngpix, 4)) Å/px (nominal/true = \(f(ratio, 4)))\n"
        o += "  fitted at the nominal pixel size over \(f(r.fitFrom, 1))–\(f(r.fitTo, 2)) Å (least squares of the CTF)\n\n"
        o += "Without refitting (the true defocus and Cs used at the nominal pixel size):\n"
        for l in describe(r.uncorrected, tolerance: phaseTolerance, nyquist: nyquist) { o += "  \(l)\n" }
        for fit in r.fits {
            o += "\n"
            switch fit.mode {
            case .defocus:
                o += "Fit of the defocus (Cs fixed at \(f(fit.sphericalAberration, 3)) mm):\n"
                o += "  defocus \(f(fit.defocus, 1)) Å\n"
            case .defocusAndCs:
                o += "Fit of defocus and Cs together:\n"
                o += "  defocus \(f(fit.defocus, 1)) Å, Cs \(f(fit.sphericalAberration, 3)) mm\n"
                o += "  exact: \(f(r.defocus, 1)) × (\(f(r.nominalAngpix, 4))/\(f(r.trueAngpix, 4)))² = \(f(r.exactDefocus, 1)) Å, "
                o += "\(f(r.sphericalAberration, 3)) × (\(f(r.nominalAngpix, 4))/\(f(r.trueAngpix, 4)))⁴ = \(f(r.exactSphericalAberration, 3)) mm\n"
            }
            o += "  rms CTF residual \(String(format: "%.2g", fit.rmsResidual)), largest phase error in the fit range \(f(fit.phase.maxPhaseErrorInFitRange, 1))°\n"
            for l in describe(fit.phase, tolerance: phaseTolerance, nyquist: nyquist) { o += "  \(l)\n" }
        }
        o += "\nResolutions are at the true pixel size (at the nominal one in brackets). Within the in-phase\n"
        o += "range the pixel size can be corrected in PostProcess; beyond it, refine Cs (4th-order aberrations)\n"
        o += "and defocus in CtfRefine, and never edit the pixel size in the STAR file.\n"
        return o
    }

    /// The SVG plot: true, nominal and fitted CTFs against the true resolution.
    static func plot(_ r: PixelSizeErrorResult) -> LinePlot {
        let c = r.curves
        var series = [
            PlotSeries(name: "true: \(fmt(r.trueAngpix)) Å/px, \(fmt(r.defocus)) Å, \(fmt(r.sphericalAberration)) mm",
                       x: c.frequency, y: c.truth, colour: "#ff7f0e", lineWidth: 2),
            PlotSeries(name: "at nominal \(fmt(r.nominalAngpix)) Å/px, no refit",
                       x: c.frequency, y: c.nominal, colour: "#1f77b4", lineWidth: 1.2),
        ]
        for (fit, curve) in zip(r.fits, c.fitted) {
            switch fit.mode {
            case .defocus:
                series.append(PlotSeries(name: "fit defocus: \(f(fit.defocus, 0)) Å", x: c.frequency, y: curve,
                                         colour: "#2ca02c", lineWidth: 1.2))
            case .defocusAndCs:
                series.append(PlotSeries(name: "fit defocus+Cs: \(f(fit.defocus, 1)) Å, \(f(fit.sphericalAberration, 3)) mm",
                                         x: c.frequency, y: curve, colour: "#d62728", dashed: true, lineWidth: 1.2))
            }
        }
        var markers = [PlotMarker(x: r.trueAngpix / (r.nominalAngpix * r.fitTo), label: "fit to \(fmt(r.fitTo)) Å nominal", colour: "#999999")]
        if let fit = r.fit(.defocus) {
            if let h = fit.phase.holdsTo { markers.append(PlotMarker(x: h.frequency, label: "in phase to \(f(h.resolution, 1)) Å", colour: "#2ca02c")) }
            if let o = fit.phase.outOfPhaseFrom { markers.append(PlotMarker(x: o.frequency, label: "out \(f(o.resolution, 1)) Å", colour: "#7f7f7f")) }
            if let b = fit.phase.backInPhase.first { markers.append(PlotMarker(x: b.frequency, label: "in phase again \(f(b.resolution, 1)) Å", colour: "#9467bd")) }
        }
        var plot = LinePlot(title: "CTF at \(fmt(r.nominalAngpix)) Å/px nominal, truly \(fmt(r.trueAngpix)) Å/px",
                            xLabel: "Resolution (Å, at the true pixel size)", yLabel: "CTF",
                            series: series, markers: markers, xAxisIsResolution: true,
                            xRange: 0...(c.frequency.last ?? 1), yRange: -1.05...1.25)
        plot.legendPosition = .below
        plot.xTickCount = 10
        plot.width = 820
        return plot
    }

    private static func fmt(_ v: Double) -> String {
        var s = String(format: "%.4f", v)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        return s
    }
}
