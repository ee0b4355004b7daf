// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `angpix calibrate zernike`: the true pixel size of each optics group from the Z40 coefficient
// CtfRefine fitted (7th rlnEvenZernike) and a trusted Cs (reference text, "How can I estimate the
// absolute pixel size of a map?").

import ArgumentParser
import Foundation
import AngpixCore
import AngpixReport
import AngpixSTAR
import AngpixOptics

struct CalibrateZernikeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zernike",
        abstract: "The true pixel size of each optics group from CtfRefine's Z40 and a trusted Cs.",
        discussion: """
        For each optics group of a CtfRefine output (run with "Estimate 4th order \
        aberrations"), with Z40 the 7th rlnEvenZernike number:
          Cs_apparent = Cs_nominal + 12·Z40·10⁻⁷ / (π λ³)
          true pixel size = nominal pixel size × (Cs_true / Cs_apparent)^(1/4)
        The answer is only as good as Cs_true and the voltage: both must be trusted. Groups without \
        rlnEvenZernike (or with fewer than 7 coefficients) are listed with the reason and no number, \
        and the command then exits with status 1.

        Example:
          angpix calibrate zernike CtfRefine/job012/particles_ctf_refine.star --cs-true 2.7
          angpix calibrate zernike particles.star --cs-true 2.7 --json
        """
    )

    @Argument(help: "A RELION 3.1 STAR file with a data_optics table (CtfRefine output).") var star: String
    @Option(name: .customLong("cs-true"), help: "The true spherical aberration in mm (from the manufacturer).") var csTrue: Double
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let doc = try STARDocument(path: star)
        guard let block = doc.block("optics") else {
            throw OpticsError.missingBlock(file: star, block: "optics")
        }
        let table = try OpticsTable(block: block, file: star)
        let results = try ZernikeCalibration.calibrate(table: table, csTrue: csTrue, file: star)
        let note = "These pixel sizes are right only if Cs_true (\(csTrue) mm) and each group's voltage are right."
        if json {
            try printJSON(ZernikeCalibrationReport(summary: ["Cs_apparent = Cs_nominal + 12·Z40·10⁻⁷/(πλ³); true pixel size = nominal × (Cs_true/Cs_apparent)^(1/4), with Cs_true = \(csTrue) mm.", note],
                                 file: star, csTrue: csTrue, groups: results, note: note))
        } else {
            print(ZernikeCalibration.text(results, file: star, csTrue: csTrue, note: note), terminator: "")
        }
        let failed = results.filter { $0.problem != nil }
        if let first = failed.first {
            let list = failed.map { String($0.opticsGroup) }.joined(separator: ", ")
            let location = table.group(first.opticsGroup)?.line.map { "\(star):\($0)" } ?? star
            throw OpticsError.group(file: location, group: first.opticsGroup,
                                    reason: "\(first.problem!)\(failed.count > 1 ? " (groups without a calibration: \(list))" : "")")
        }
    }
}
