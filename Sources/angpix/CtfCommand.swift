// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix ctf`: the CTF at a wrong pixel size, and how defocus (and Cs) fitted at the nominal
// pixel size absorb the error (the reference text's "Cs and the error in the pixel size").

import ArgumentParser
import Foundation
import AngpixCore
import AngpixOptics
import AngpixReport

struct CtfCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctf",
        abstract: "The CTF at a wrong pixel size, and how defocus and Cs absorb it.",
        subcommands: [CtfSimulateCommand.self]
    )
}

struct CtfSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a CTF seen at a wrong pixel size and fit defocus (and Cs) at the nominal one.",
        discussion: """
        The CTF of a micrograph truly at --true-angpix is fitted, as CTFFIND and CtfRefine would, at \
        --nominal-angpix over --fit-from to --fit-to Å (resolutions at the nominal pixel size). \
        Criterion: least squares of the CTF values, sampled uniformly in spatial frequency. Defocus \
        alone absorbs the error at low resolution only; defocus and Cs together absorb it \
        completely (Δf·(nominal/true)², Cs·(nominal/true)⁴). Reported resolutions are at the true \
        pixel size; "in phase" means the phase error stays within --phase-tolerance degrees, "out \
        of phase" that the curves are anti-correlated (FSC drops), "back in phase" where they \
        agree again (an FSC bump).

        Example:
          angpix ctf simulate --defocus 5000 --cs 2.7 --voltage 300 --true-angpix 0.51 --nominal-angpix 0.54 --plot ctf.svg
          angpix ctf simulate --fit defocus+cs --fit-from 30 --fit-to 3.5 --json
        """
    )

    @Option(help: "Defocus in Å (underfocus positive).") var defocus: Double = 5000
    @Option(help: "Spherical aberration in mm (the true value).") var cs: Double = 2.7
    @Option(help: "Accelerating voltage in kV.") var voltage: Double = 300
    @Option(name: .customLong("true-angpix"), help: "The true pixel size in Å.") var trueAngpix: Double = 0.51
    @Option(name: .customLong("nominal-angpix"), help: "The pixel size believed (used for fitting) in Å.") var nominalAngpix: Double = 0.54
    @Option(name: .customLong("amplitude-contrast"), help: "Amplitude contrast Q0.") var amplitudeContrast: Double = 0.1
    @Option(help: "What to fit: defocus or defocus+cs (default: both).") var fit: [FitChoice] = []
    @Option(name: .customLong("fit-from"), help: "Low-resolution end of the fit range, Å at the nominal pixel size.") var fitFrom: Double = 30
    @Option(name: .customLong("fit-to"), help: "High-resolution end of the fit range, Å at the nominal pixel size.") var fitTo: Double = 3.5
    @Option(name: .customLong("phase-tolerance"), help: "Phase error (degrees) up to which a fit counts as holding.") var phaseTolerance: Double = 9
    @Flag(help: "Print the result as JSON.") var json = false
    @Option(help: "Write an SVG plot of the true, nominal and fitted CTFs.") var plot: String?
    @Option(name: .customLong("plot-to"), help: "Highest resolution of the plot in Å at the true pixel size (default: 1.5 Å or Nyquist).") var plotTo: Double?
    @Flag(help: "Overwrite an existing plot file.") var force = false

    enum FitChoice: String, ExpressibleByArgument, CaseIterable {
        case defocus = "defocus"
        case defocusAndCs = "defocus+cs"
        var mode: CTFFitMode { self == .defocus ? .defocus : .defocusAndCs }
    }

    func run() throws {
        var modes = fit.map(\.mode)
        if modes.isEmpty { modes = CTFFitMode.allCases }
        var seen = Set<CTFFitMode>()
        modes = modes.filter { seen.insert($0).inserted }
        var sim = PixelSizeErrorSimulation(defocus: defocus, sphericalAberration: cs, voltage: voltage,
                                           trueAngpix: trueAngpix, nominalAngpix: nominalAngpix,
                                           amplitudeContrast: amplitudeContrast, fitFrom: fitFrom, fitTo: fitTo,
                                           fitModes: modes, phaseTolerance: phaseTolerance)
        if let plotTo {
            guard plotTo.isFinite, plotTo > 0 else { throw OpticsError.invalidParameter("plot-to", plotTo, "must be a positive resolution (Å)") }
            sim.curveMaxFrequency = min(1 / plotTo, 1 / (2 * trueAngpix))
        } else if trueAngpix > 0 {
            sim.curveMaxFrequency = CtfSimulationReport.defaultPlotMaxFrequency(trueAngpix: trueAngpix)
        }
        let result = try sim.run()
        if let plot {
            try writeFileAtomically(CtfSimulationReport.plot(result).svg(), to: plot, policy: OutputPolicy(overwrite: force))
        }
        if json {
            try printJSON(CtfSimulationReport.JSONOutput(result, phaseTolerance: phaseTolerance, plot: plot))
        } else {
            print(CtfSimulationReport.text(result, phaseTolerance: phaseTolerance), terminator: "")
            if let plot { print("Plot written to \(plot)") }
        }
    }
}
