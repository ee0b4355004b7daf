// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The sections of `angpix demo` after the join: the reference text ("Pixel size issues", RELION)
// walked through end to end on data generated on the fly, each section calling the library the
// matching command uses and writing NAME.json (+ NAME*.svg) into the output folder, in the
// convention `angpix report` reads (see Report/HTMLDirectoryReport.swift).

import Foundation
import AngpixCore
import AngpixSTAR
import AngpixMRC
import AngpixOptics
import AngpixReport
import AngpixProjectCheck

/// Where the demo writes and what it has printed so far.
final class DemoContext {
    let out: String
    let policy: OutputPolicy
    /// One line per section for the overview at the top of the report.
    var overview: [[String]] = []

    init(out: String, force: Bool) {
        // Absolute, so that the check section can run from the project folder.
        self.out = URL(fileURLWithPath: out).standardizedFileURL.path
        policy = OutputPolicy(overwrite: force)
    }

    /// The path of `name` inside the output folder (folders created).
    func path(_ name: String) throws -> String {
        let p = (out as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return p
    }

    func writeJSON<T: Encodable>(_ value: T, _ name: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try writeFileAtomically(try encoder.encode(value), to: try path(name), policy: policy)
    }

    func writeText(_ text: String, _ name: String) throws {
        try writeFileAtomically(text, to: try path(name), policy: policy)
    }

    func say(_ text: String, terminator: String = "\n") { print(text, terminator: terminator) }
}

/// A section in the report folder convention: title, summary, tables, plots, notes.
struct DemoSection: Encodable {
    var title: String
    var summary: [String]
    var tables: [ReportTable] = []
    var plots: [String]? = nil
    var notes: [String]? = nil
    /// The key numbers, by name (shown in the folded "All values").
    var values: [String: Double]? = nil
}


enum DemoWalkthrough {
    /// Writes 00-overview.json (the key number of each section) and the HTML report of the folder.
    static func finish(_ c: DemoContext, started: Date) throws {
        let seconds = Date().timeIntervalSince(started)
        try c.writeJSON(DemoSection(
            title: "angpix demo: the pixel-size problems of a RELION project",
            summary: ["This folder was written by `angpix demo` from data generated on the fly (nothing downloaded), following RELION's \"Pixel size issues\" page: \(FileManager.default.fileExists(atPath: (c.out as NSString).appendingPathComponent("01-join.json")) ? "datasets at two pixel sizes joined, " : "")the CTF at a wrong pixel size, the true pixel size from Z40, pixel sizes through optics groups, a map calibrated against a model, PostProcess at the corrected pixel size, angpix check on the resulting mini-project (project/)\(FileManager.default.fileExists(atPath: (c.out as NSString).appendingPathComponent("\(DemoRefine.prefix).json")) ? ", and the pixel size measured from simulated particles by refine magnification and by Z40 (refine/)" : "").",
                      "Each section below has the numbers behind its plots; the raw values of each result file are folded under \"All values\". Made in \(formatFixed(seconds, decimals: 1)) s."],
            tables: [ReportTable(title: "What each section found", columns: ["section", "result"], rows: c.overview)]),
            "00-overview.json")
        let reportPath = try c.path(HTMLDirectoryReport.defaultFileName)
        let page = try HTMLDirectoryReport.page(directory: c.out, title: "angpix demo", excluding: [HTMLDirectoryReport.defaultFileName])
        try page.write(to: reportPath, policy: c.policy)
        c.say("")
        c.say("Wrote \(c.out) (result files, plots and the mini-project) in \(formatFixed(seconds, decimals: 1)) s; open \(reportPath) in a browser.")
    }

    // MARK: CTF at a wrong pixel size (reference text: "Cs and the error in the pixel size")

    /// Runs the reference text's case; returns the fit of defocus and Cs (used by the Z40 section).
    static func ctf(_ c: DemoContext) throws -> PixelSizeErrorResult {
        let r = try CtfSimulationReport.referenceCase()
        try c.writeText(CtfSimulationReport.plot(r).svg(), "02-ctf.svg")
        try c.writeJSON(CtfSimulationReport.JSONOutput(r, phaseTolerance: PixelSizeErrorSimulation.referenceCase.phaseTolerance,
                                                      plot: "02-ctf.svg"), "02-ctf.json")
        let d = r.fit(.defocus), dc = r.fit(.defocusAndCs)
        c.say("CTF at a wrong pixel size (truly \(formatFixed(r.trueAngpix, decimals: 2)) Å/px, believed \(formatFixed(r.nominalAngpix, decimals: 2)); defocus \(formatFixed(r.defocus, decimals: 0)) Å, Cs \(formatFixed(r.sphericalAberration, decimals: 1)) mm)")
        if let d {
            c.say("   fit of the defocus:        \(formatFixed(d.defocus, decimals: 0)) Å; in phase to \(d.phase.holdsTo.map { formatFixed($0.resolution, decimals: 2) + " Å" } ?? "Nyquist")"
                  + (d.phase.backInPhase.first.map { ", back in phase at \(formatFixed($0.resolution, decimals: 2)) Å (the FSC bump)" } ?? ""))
        }
        if let dc {
            c.say("   fit of defocus and Cs:     \(formatFixed(dc.defocus, decimals: 1)) Å and \(formatFixed(dc.sphericalAberration, decimals: 3)) mm (exact: \(formatFixed(r.exactDefocus, decimals: 1)) Å, \(formatFixed(r.exactSphericalAberration, decimals: 3)) mm)")
        }
        c.overview.append(["CTF at a wrong pixel size",
                           "defocus alone: \(d.map { formatFixed($0.defocus, decimals: 0) } ?? "-") Å, in phase to \(d?.phase.holdsTo.map { formatFixed($0.resolution, decimals: 1) } ?? "-") Å; defocus+Cs: \(dc.map { formatFixed($0.defocus, decimals: 1) } ?? "-") Å, \(dc.map { formatFixed($0.sphericalAberration, decimals: 3) } ?? "-") mm"])
        return r
    }

    // MARK: The true pixel size from Z40 (reference text: "How can I estimate the absolute pixel size")

    static func z40(_ c: DemoContext, ctf r: PixelSizeErrorResult) throws {
        // CtfRefine with "Estimate 4th order aberrations" keeps rlnSphericalAberration and puts the
        // Cs error into Z40: the one the defocus+Cs fit found.
        guard let fit = r.fit(.defocusAndCs) else { return }
        let z40 = ZernikeCalibration.z40(csNominal: r.sphericalAberration, csApparent: fit.sphericalAberration, voltage: r.voltage)
        let star = try c.path("project/CtfRefine/job013/particles_ctf_refine.star")
        let optics = STARBlock(name: "optics", labels: [
            "rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration", "rlnVoltage",
            "rlnImagePixelSize", "rlnImageSize", "rlnImageDimensionality", "rlnEvenZernike",
        ], rows: [["1", "k3_0.54", "0.100000", formatFixed(r.sphericalAberration, decimals: 6), formatFixed(r.voltage, decimals: 6), formatFixed(r.nominalAngpix, decimals: 6), "360", "2",
                   "[0,0,0,0,0,0,\(formatSignificant(z40, digits: 8))]"]])
        let particles = STARBlock(name: "particles", labels: ["rlnImageName", "rlnDefocusU", "rlnDefocusV", "rlnDefocusAngle", "rlnOpticsGroup"],
                                  rows: (1...3).map { ["\(String(format: "%06d", $0))@Extract/job007/Movies/mic001.mrcs", formatFixed(fit.defocus, decimals: 6), formatFixed(fit.defocus, decimals: 6), "0.000000", "1"] })
        try STARDocument(blocks: [optics, particles]).write(to: star, policy: c.policy)
        let table = try OpticsTable(block: try STARDocument(path: star).block("optics")!, file: star)
        let results = try ZernikeCalibration.calibrate(table: table, csTrue: r.sphericalAberration, file: star)
        guard let g = results.first, let truePx = g.truePixelSize, let apparent = g.csApparent else { return }
        let note = "These pixel sizes are right only if Cs_true (\(r.sphericalAberration) mm) and the voltage (\(formatFixed(r.voltage, decimals: 0)) kV) are right."
        try c.writeJSON(ZernikeCalibrationReport(
            summary: ["CtfRefine (\"Estimate 4th order aberrations\") keeps rlnSphericalAberration = \(formatFixed(r.sphericalAberration, decimals: 1)) mm and absorbs the pixel-size error into Z40 = \(formatSignificant(z40, digits: 4)), the 7th rlnEvenZernike number of project/CtfRefine/job013/particles_ctf_refine.star.",
                      "Cs_apparent = Cs_nominal + 12·Z40·10⁻⁷/(πλ³) = \(formatFixed(apparent, decimals: 3)) mm; true pixel size = \(formatFixed(r.nominalAngpix, decimals: 2)) × (\(formatFixed(r.sphericalAberration, decimals: 1)) / \(formatFixed(apparent, decimals: 3)))^¼ = \(formatFixed(truePx, decimals: 4)) Å/px (the simulation's truth: \(formatFixed(r.trueAngpix, decimals: 2))).",
                      note],
            file: star, csTrue: r.sphericalAberration, groups: results, note: note), "03-z40.json")
        c.say("True pixel size from Z40: Z40 = \(formatSignificant(z40, digits: 4)) → Cs apparent \(formatFixed(apparent, decimals: 3)) mm → \(formatFixed(truePx, decimals: 4)) Å/px (truth \(formatFixed(r.trueAngpix, decimals: 2)))")
        c.overview.append(["True pixel size from Z40", "Z40 \(formatSignificant(z40, digits: 4)), Cs apparent \(formatFixed(apparent, decimals: 3)) mm: \(formatFixed(truePx, decimals: 4)) Å/px (truth \(formatFixed(r.trueAngpix, decimals: 2)))"])
    }

    // MARK: Effective pixel sizes through optics groups (reference text: "Multiple optics groups")

    static func opticsTrace(_ c: DemoContext) throws {
        // Two groups at 1.00 and 0.95 Å/px nominal, truly 1.00 and 0.90; a reference at 1.00 Å/px; the
        // reconstruction truly at 0.99 Å/px, so CtfRefine puts 0.99 / (1.00·1.00/1.00) = 0.9900 and
        // 0.99 / (0.90/0.95·1.00) = 1.045 in rlnMagMat.
        let mapTrue = 0.99, h = 1.0
        let groups = [(1, "scope1", 1.00, 1.00), (2, "scope2", 0.95, 0.90)]
        let mags = groups.map { mapTrue / ($0.3 * h / $0.2) }
        let star = try c.path("project/CtfRefine/job014/particles_ctf_refine.star")
        let optics = STARBlock(name: "optics", labels: [
            "rlnOpticsGroup", "rlnOpticsGroupName", "rlnAmplitudeContrast", "rlnSphericalAberration", "rlnVoltage",
            "rlnImagePixelSize", "rlnImageSize", "rlnImageDimensionality", "rlnMagMat00", "rlnMagMat01", "rlnMagMat10", "rlnMagMat11",
        ], rows: zip(groups, mags).map { g, m in
            [String(g.0), g.1, "0.100000", "2.700000", "300.000000", formatFixed(g.2, decimals: 6), "200", "2", formatFixed(m, decimals: 6), "0.000000", "0.000000", formatFixed(m, decimals: 6)]
        })
        let particles = STARBlock(name: "particles", labels: ["rlnImageName", "rlnOpticsGroup"],
                                  rows: [["000001@Extract/job007/Movies/a.mrcs", "1"], ["000001@Extract/job008/Movies/b.mrcs", "2"]])
        try STARDocument(blocks: [optics, particles]).write(to: star, policy: c.policy)
        let table = try OpticsTable(block: try STARDocument(path: star).block("optics")!, file: star)
        let result = try OpticsTrace.trace(groups: table.groups.map(TraceGroupInput.init), referencePixelSize: h,
                                           anchor: .group(1, 1.00), file: star)
        try c.writeJSON(OpticsTraceReport(result), "04-optics-trace.json")
        let g2 = result.groups[1]
        c.say("Optics groups at 1.00 and 0.95 Å/px (truly 1.00 and 0.90), reference 1.00 Å/px: rlnMagMat \(formatFixed(result.groups[0].magnification, decimals: 4)) and \(formatFixed(g2.magnification, decimals: 4));")
        c.say("   trusting group 1 at 1.00 Å/px: map \(formatFixed(result.mapTruePixelSize ?? 0, decimals: 3)) Å/px, group 2 \(formatFixed(g2.truePixelSize ?? 0, decimals: 3)) Å/px (not 0.95/\(formatFixed(g2.magnification, decimals: 3)) = \(formatFixed(g2.naivePixelSize, decimals: 4)))")
        c.overview.append(["Pixel sizes through optics groups",
                           "rlnMagMat \(formatFixed(result.groups[0].magnification, decimals: 4)) and \(formatFixed(g2.magnification, decimals: 4)); map \(formatFixed(result.mapTruePixelSize ?? 0, decimals: 3)) Å/px, group 2 \(formatFixed(g2.truePixelSize ?? 0, decimals: 3)) Å/px"])
    }

    // MARK: angpix check on the mini-project

    /// Checks the project twice: as it should be (the Refine3D map as reference), and with the
    /// PostProcess map at the corrected pixel size reused as a reference (the 0.98 → 0.96 trap).
    static func check(_ c: DemoContext, star: String, refineMap: String, mask: String?, postprocessStar: String?,
                      postprocessMap: String?) throws {
        let project = try c.path("project")
        func rel(_ p: String) -> String { p.hasPrefix(project + "/") ? String(p.dropFirst(project.count + 1)) : p }
        // Run from the project folder, as a user would, so that messages show the project's paths.
        let previous = FileManager.default.currentDirectoryPath
        guard FileManager.default.changeCurrentDirectoryPath(project) else { throw CoreError.cannotRead(path: project, reason: "cannot enter the folder") }
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        let good = try ProjectChecker.check(ProjectCheckInputs(star: rel(star), reference: rel(refineMap), mask: mask.map(rel),
                                                               postprocess: postprocessStar.map(rel), openStacks: true))
        var sections: [(String, ProjectCheckReport, String)] = [("07-check.json", good,
            "angpix check --star \(rel(star)) --reference \(rel(refineMap))\(mask.map { " --mask \(rel($0))" } ?? "")\(postprocessStar.map { " --postprocess \(rel($0))" } ?? "") --stacks")]
        if let postprocessMap {
            let trap = try ProjectChecker.check(ProjectCheckInputs(star: rel(star), reference: rel(postprocessMap),
                                                                   postprocess: postprocessStar.map(rel)))
            sections.append(("08-check-trap.json", trap,
                             "angpix check --star \(rel(star)) --reference \(rel(postprocessMap))\(postprocessStar.map { " --postprocess \(rel($0))" } ?? "")"))
        }
        for (name, report, command) in sections {
            let title = name.contains("trap") ? "angpix check: the PostProcess map reused as a reference" : "angpix check on the mini-project"
            let e = report.count(.error), w = report.count(.warning), i = report.count(.info)
            let verdict = report.serious ? "something serious: exit status 1" : "nothing serious: exit status 0"
            try c.writeJSON(CheckSection(title: title,
                                         summary: ["In \(project): \(command)", "\(e) error\(e == 1 ? "" : "s"), \(w) warning\(w == 1 ? "" : "s"), \(i) note\(i == 1 ? "" : "s"): \(verdict)."],
                                         findings: report.findings, checked: report.checked), name)
            c.say("   \(command)\n     → \(e) error\(e == 1 ? "" : "s"), \(w) warning\(w == 1 ? "" : "s"), \(i) note\(i == 1 ? "" : "s") (\(verdict))")
            for finding in report.findings where finding.severity != .info {
                c.say("       \(finding.severity.rawValue): \(finding.problem)")
            }
            c.overview.append([title, "\(e) error\(e == 1 ? "" : "s"), \(w) warning\(w == 1 ? "" : "s")"])
        }
    }

    struct CheckSection: Encodable {
        var title: String
        var summary: [String]
        var findings: [Finding]
        var checked: [String]
    }
}
