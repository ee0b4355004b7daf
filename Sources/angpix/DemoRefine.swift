// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The demo's refine section (reference text: "Multiple optics groups" and "How can I estimate the
// absolute pixel size"): particles simulated from the built-in model as `angpix simulate
// particles` makes them (its own argument parsing and map), then measured with the library the
// refine commands use:
//   (a) relative: two optics groups under one nominal 1.00 Å/px, the second truly at 1.02 Å/px,
//       the reference at group 1's pixel size (refine/Merged): `refine magnification` finds each
//       group's pixel size relative to the reference;
//   (b) absolute: the second group's dataset on its own, with the map refined from it at its
//       nominal pixel size (refine/Alone), so that nothing is corrected as a magnification and the
//       error is a Cs error: `refine aberrations` finds Z40, which with a trusted Cs gives the true
//       pixel size (`calibrate zernike`), then `refine defocus` refits the defocus, whose
//       CTFFIND-like values had absorbed part of the error (and carry a 100 Å estimation error).
// (b) needs its own set: in (a)'s the reference is at group 1's scale, so group 2's particles do
// not match it and the Z40 fit measures the mismatch, not the Cs.
// The simulated sets are RELION-style projects (the commands run in them); the section's JSON and
// copies of the refine plots are written into the demo folder for the report.

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics
import AngpixReport
import AngpixRefine
import AngpixSimulation

enum DemoRefine {
    /// The file names' prefix in the demo folder (after the check sections' 07 and 08).
    static let prefix = "09-refine"
    static let trueCs = 2.7
    /// Small and at a high SNR, so that the section takes a few seconds; the box holds the map (68–70 voxels).
    static let common = ["--builtin-model", "--box", "96", "--particles", "100", "--per-micrograph", "25", "--snr", "5", "--seed", "5"]
    /// `angpix simulate particles` arguments, run in the demo folder.
    static let mergedArguments = ["-o", "refine/Merged"] + common
        + ["--group", "name=nominal", "--group", "name=larger,true-angpix=1.02"]
    static let aloneArguments = ["-o", "refine/Alone"] + common
        + ["--reference-angpix", "1.02", "--reference-label", "1.00",
           "--group", "name=larger,true-angpix=1.02,defocus-frame=ctffind,defocus-error=100"]
    static let postprocess = "PostProcess/postprocess.star"

    /// One group's relative pixel size from `refine magnification` (Å).
    struct RelativeRow {
        var number: Int, name: String, nominal: Double, truth: Double, found: Double, error: Double
    }

    /// Mean and RMS of the defocus error against the truth (Å).
    struct DefocusError {
        var mean: Double, rms: Double
    }

    static func run(_ c: DemoContext) throws {
        let started = Date()

        // (a) Relative: two groups against a reference at group 1's pixel size.
        c.say("(a) Relative: each optics group's pixel size against the reference's, from the magnification of its particles.")
        let merged = try simulate(c, mergedArguments)
        let magnificationLine = "angpix refine magnification particles.star --postprocess \(postprocess) -o Magnification --iterations 3"
        var magOptions = MagnificationOptions()
        magOptions.iterations = 3
        magOptions.stream.projectDirectory = merged.folder
        let mag = try inFolder(merged.folder) {
            try MagnificationRun.run(input: "particles.star", reference: ReferenceSource(postprocess: postprocess),
                                     outputDirectory: "Magnification", options: magOptions, force: true)
        }
        c.say("   (in \(merged.folder)) \(magnificationLine)")
        var relative: [RelativeRow] = []
        for g in mag.summary.groups {
            guard let t = merged.truth.groups.first(where: { $0.number == g.opticsGroup }) else { continue }
            relative.append(RelativeRow(number: g.opticsGroup, name: g.name, nominal: g.nominalPixelSize, truth: t.pixelSizeRelativeToReference,
                                        found: g.impliedPixelSize, error: g.impliedPixelSizeError))
            c.say("     group \(g.opticsGroup) (\(g.name)): nominal \(formatFixed(g.nominalPixelSize, decimals: 5)), found \(formatFixed(g.impliedPixelSize, decimals: 5)) ± \(formatFixed(g.impliedPixelSizeError, decimals: 5)) Å/px, truth \(formatFixed(t.pixelSizeRelativeToReference, decimals: 5))")
        }

        // (b) Absolute: the group truly at 1.02 Å/px on its own, its map refined at the nominal 1.00.
        c.say("\n(b) Absolute: Z40 with a trusted Cs (\(formatSignificant(trueCs)) mm), on the larger group's dataset alone, its map refined at the nominal pixel size.")
        let alone = try simulate(c, aloneArguments)
        let group = alone.truth.groups[0]
        let aberrationsLine = "angpix refine aberrations particles.star --postprocess \(postprocess) -o Aberrations --no-odd"
        let zernikeLine = "angpix calibrate zernike Aberrations/particles.star --cs-true \(formatSignificant(trueCs))"
        let defocusLine = "angpix refine defocus Aberrations/particles.star --postprocess \(postprocess) -o Defocus --range 500"
        var aberrationOptions = AberrationOptions()
        aberrationOptions.fitOdd = false
        aberrationOptions.stream.projectDirectory = alone.folder
        var defocusOptions = DefocusOptions()
        defocusOptions.searchRange = 500
        defocusOptions.stream.projectDirectory = alone.folder
        let (aberrations, calibration, defocus, before, after) = try inFolder(alone.folder) {
            let source = ReferenceSource(postprocess: postprocess)
            let aberrations = try AberrationRun.run(input: "particles.star", reference: source, outputDirectory: "Aberrations",
                                                    options: aberrationOptions, force: true)
            let corrected = "Aberrations/particles.star"
            guard let block = try STARDocument(path: corrected).block("optics") else {
                throw OpticsError.missingBlock(file: corrected, block: "optics")
            }
            let calibration = try ZernikeCalibration.calibrate(table: try OpticsTable(block: block, file: corrected), csTrue: trueCs, file: corrected)
            let defocus = try DefocusRun.run(input: corrected, reference: source, outputDirectory: "Defocus", options: defocusOptions, force: true)
            return (aberrations, calibration, defocus,
                    try defocusError(star: "particles.star", truth: alone.truth), try defocusError(star: "Defocus/particles.star", truth: alone.truth))
        }
        let even = aberrations.summary.groups.first?.even
        let z40 = even?.z40 ?? .nan, z40Error = even?.z40Error ?? .nan
        let expectedZ40 = group.expectedEvenZernike.count > Zernike.z40Index ? group.expectedEvenZernike[Zernike.z40Index] : 0
        let csApparent = calibration.first?.csApparent ?? .nan, absolute = calibration.first?.truePixelSize ?? .nan
        let truePixelSize = group.settings.truePixelSize
        c.say("   (in \(alone.folder)) \(aberrationsLine)")
        c.say("     Z40 \(formatFixed(z40, decimals: 3)) ± \(formatFixed(z40Error, decimals: 3)) (truth \(formatFixed(expectedZ40, decimals: 3)))")
        c.say("   \(zernikeLine)")
        c.say("     Cs apparent \(formatFixed(csApparent, decimals: 3)) mm (truth \(formatFixed(group.apparentCs, decimals: 3))) → \(formatFixed(absolute, decimals: 4)) Å/px (truth \(formatFixed(truePixelSize, decimals: 4)))")
        c.say("   \(defocusLine)")
        c.say("     defocus against the truth: mean \(formatFixed(before.mean, decimals: 0)) Å, RMS \(formatFixed(before.rms, decimals: 0)) Å as written (CTFFIND-like); mean \(formatFixed(after.mean, decimals: 0)) Å, RMS \(formatFixed(after.rms, decimals: 0)) Å after (RMS change \(formatFixed(defocus.summary.rmsChange, decimals: 0)) Å)")
        let seconds = Date().timeIntervalSince(started)
        c.say("   (this section took \(formatFixed(seconds, decimals: 1)) s)")

        // The report: the section's JSON and copies of the refine plots next to it.
        var plots: [String] = []
        func copy(_ folder: String, _ file: String, _ name: String) throws {
            guard let svg = try? String(contentsOfFile: (folder as NSString).appendingPathComponent(file), encoding: .utf8) else { return }
            try c.writeText(svg, name)
            plots.append(name)
        }
        try copy(merged.folder, "Magnification/magnification.svg", "\(prefix)-magnification.svg")
        for r in relative {
            try copy(merged.folder, "Magnification/" + MagnificationPlots.displacementFileName(opticsGroup: r.number), "\(prefix)-displacement-group\(r.number).svg")
        }
        try copy(alone.folder, "Aberrations/aberrations_group\(group.number).svg", "\(prefix)-aberrations.svg")
        func px(_ v: Double, _ d: Int = 4) -> String { formatFixed(v, decimals: d) }
        let larger = relative.first { $0.truth != $0.nominal } ?? relative[relative.count - 1]
        var values: [String: Double] = [
            "seconds": seconds, "trueCs": trueCs, "z40": z40, "z40Error": z40Error, "z40Truth": expectedZ40,
            "csApparent": csApparent, "csApparentTruth": group.apparentCs, "z40PixelSize": absolute, "z40PixelSizeTruth": truePixelSize,
            "defocusMeanErrorBefore": before.mean, "defocusRMSErrorBefore": before.rms,
            "defocusMeanErrorAfter": after.mean, "defocusRMSErrorAfter": after.rms,
        ]
        for r in relative {
            values["group\(r.number)RelativePixelSize"] = r.found
            values["group\(r.number)RelativePixelSizeError"] = r.error
            values["group\(r.number)RelativePixelSizeTruth"] = r.truth
        }
        let mergedLine = "angpix simulate particles " + mergedArguments.joined(separator: " ")
        let aloneLine = "angpix simulate particles " + aloneArguments.joined(separator: " ")
        try c.writeJSON(DemoSection(
            title: "Measuring the pixel size from the particles (refine)",
            summary: [
                "(a) Relative. Two optics groups at a nominal \(px(larger.nominal, 2)) Å/px, group \(larger.number) truly at \(px(larger.truth, 2)), simulated from the built-in model with the reference at group 1's pixel size (\(mergedLine)). In refine/Merged, \(magnificationLine) finds group \(larger.number) at \(px(larger.found, 5)) ± \(px(larger.error, 5)) Å/px (truth \(px(larger.truth, 5))). The plots show each group's distortion and, for the first of the passes, the displacement of its frequencies, per pixel as the fit measured it and fitted.",
                "(b) Absolute. Group \(larger.number)'s dataset on its own, with the map refined from it at the nominal pixel size (\(aloneLine)): nothing is corrected as a magnification, and the pixel-size error is a Cs error. In refine/Alone, \(aberrationsLine) finds Z40 = \(formatFixed(z40, decimals: 3)) ± \(formatFixed(z40Error, decimals: 3)) (truth \(formatFixed(expectedZ40, decimals: 3))); \(zernikeLine) turns it into \(px(absolute)) Å/px (truth \(px(truePixelSize))), right only if Cs (\(formatSignificant(trueCs)) mm) and the voltage are.",
                "The defocus, as CTFFIND found it at the nominal pixel size, had absorbed part of the error (and carries a 100 Å estimation error): against the truth, mean \(formatFixed(before.mean, decimals: 0)) Å and RMS \(formatFixed(before.rms, decimals: 0)) Å; after \(defocusLine), mean \(formatFixed(after.mean, decimals: 0)) Å and RMS \(formatFixed(after.rms, decimals: 0)) Å.",
            ],
            tables: [
                ReportTable(title: "(a) refine magnification: pixel size relative to the reference (Å)", columns: ["group", "name", "nominal", "found", "truth"],
                            rows: relative.map { [String($0.number), $0.name, px($0.nominal, 5), "\(px($0.found, 5)) ± \(px($0.error, 5))", px($0.truth, 5)] }),
                ReportTable(title: "(b) Z40 → absolute pixel size, and the defocus", columns: ["quantity", "found", "truth"],
                            rows: [["Z40", "\(formatFixed(z40, decimals: 3)) ± \(formatFixed(z40Error, decimals: 3))", formatFixed(expectedZ40, decimals: 3)],
                                   ["Cs apparent (mm)", formatFixed(csApparent, decimals: 3), formatFixed(group.apparentCs, decimals: 3)],
                                   ["pixel size (Å)", px(absolute), px(truePixelSize)],
                                   ["defocus error as written: mean, RMS (Å)", "\(formatFixed(before.mean, decimals: 0)), \(formatFixed(before.rms, decimals: 0))", "0, 0"],
                                   ["defocus error after refine defocus: mean, RMS (Å)", "\(formatFixed(after.mean, decimals: 0)), \(formatFixed(after.rms, decimals: 0))", "0, 0"]]),
                ReportTable(title: "The commands (the simulations in the demo folder, the rest in the simulated project)", columns: ["command"],
                            rows: [[mergedLine], [magnificationLine], [aloneLine], [aberrationsLine], [zernikeLine], [defocusLine]]),
            ],
            plots: plots,
            notes: ["The defocus error is the CTF's defocus term against the truth's at the nominal pixel size: the mean defocus plus the ρ² part of the fitted Zernike terms (2 Z20 − 6 Z40, a defocus shared by the group) minus the true defocus seen at the nominal pixel size."],
            values: values), "\(prefix).json")
        c.overview.append(["Pixel size from the particles (refine)",
                           "truly \(px(truePixelSize, 2)) Å/px under a nominal \(px(group.settings.nominalPixelSize, 2)): refine magnification \(px(larger.found)), Z40 \(px(absolute)) Å/px"])
    }

    /// Simulates a set as `angpix simulate particles ARGUMENTS` run in the demo folder does; returns its folder and truth.
    static func simulate(_ c: DemoContext, _ arguments: [String]) throws -> (folder: String, truth: ParticleSetTruth) {
        let started = Date()
        let command = try SimulateParticlesCommand.parse(arguments)
        var groups: [SimulatedOpticsGroup] = []
        for (i, text) in command.groups.enumerated() { groups.append(try command.parseGroup(text, index: i + 1)) }
        let reference = try command.reference(firstGroup: groups[0])
        let folder = try c.path(command.output)
        let line = "angpix simulate particles " + arguments.joined(separator: " ")
        let (_, truth) = try ParticleSetSimulation(reference: reference, groups: groups, seed: command.seed)
            .write(to: folder, policy: c.policy, commandLine: line)
        c.say("   Simulated \(groups.count) optics group\(groups.count == 1 ? "" : "s") of \(groups[0].particleCount) particles (\(groups[0].boxSize)² px, SNR \(formatSignificant(command.snr))) from the built-in model in \(formatFixed(Date().timeIntervalSince(started), decimals: 1)) s; reference \(formatFixed(truth.referenceTruePixelSize, decimals: 2)) Å/px, labelled \(formatFixed(truth.referenceLabelPixelSize, decimals: 2)):")
        c.say("   (in \(c.out)) \(line)")
        for g in truth.groups {
            c.say("     group \(g.number) (\(g.settings.name)): nominal \(formatFixed(g.settings.nominalPixelSize, decimals: 2)) Å/px, truly \(formatFixed(g.settings.truePixelSize, decimals: 2))")
        }
        return (folder, truth)
    }

    /// Runs `body` in `folder` (relative file names, as a user runs the commands there; the
    /// options' stream settings must name the folder too: they take the current one when made).
    static func inFolder<T>(_ folder: String, _ body: () throws -> T) throws -> T {
        let previous = FileManager.default.currentDirectoryPath
        guard FileManager.default.changeCurrentDirectoryPath(folder) else { throw CoreError.cannotRead(path: folder, reason: "cannot enter the folder") }
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        return try body()
    }

    /// The CTF's defocus term against the truth's, over the particles: (mean defocus + the even
    /// Zernike terms' ρ² part, 2 Z20 − 6 Z40, in Å) − the true defocus seen at the nominal pixel size.
    static func defocusError(star: String, truth: ParticleSetTruth) throws -> DefocusError {
        let particles = try RefineParticles(path: star)
        let shared = particles.optics.groups.map { g -> Double in
            let z = g.evenZernike
            guard z.count > Zernike.z40Index else { return 0 }
            return (2 * z[2] - 6 * z[Zernike.z40Index]) / (Double.pi * electronWavelength(kilovolts: g.voltage))
        }
        var errors: [Double] = []
        for r in particles.records where r.row < truth.particles.count {
            let t = truth.particles[r.row]
            errors.append((r.defocusU + r.defocusV) / 2 - shared[r.groupIndex] - (t.nominalDefocusU + t.nominalDefocusV) / 2)
        }
        let n = Double(max(1, errors.count))
        return DefocusError(mean: errors.reduce(0, +) / n, rms: (errors.reduce(0) { $0 + $1 * $1 } / n).squareRoot())
    }
}
