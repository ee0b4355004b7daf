// `angpix calibrate zernike`: the true pixel size of each optics group from the Z40 coefficient
// CtfRefine fitted (7th rlnEvenZernike) and a trusted Cs (reference text, "How can I estimate the
// absolute pixel size of a map?").

import ArgumentParser
import Foundation
import AngpixCore
import AngpixSTAR
import AngpixOptics

struct CalibrateZernikeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zernike",
        abstract: "The true pixel size of each optics group from CtfRefine's Z40 and a trusted Cs.",
        discussion: """
        For each optics group of a CtfRefine output (run with "Estimate 4th order aberrations"):
          Cs_apparent = Cs_nominal + 12·Z40·10⁻⁷ / (π λ³)   (Z40: the 7th rlnEvenZernike number)
          true pixel size = nominal pixel size × (Cs_true / Cs_apparent)^(1/4)
        The answer is only as good as Cs_true and the voltage: both must be trusted. Groups without
        rlnEvenZernike (or with fewer than 7 coefficients) are listed with the reason and no number,
        and the command then exits with status 1.

        Example:
          angpix calibrate zernike CtfRefine/job012/particles_ctf_refine.star --cs-true 2.7
          angpix calibrate zernike particles.star --cs-true 2.7 --json
        """
    )

    @Argument(help: "A RELION 3.1 STAR file with a data_optics table (CtfRefine output).") var star: String
    @Option(name: .customLong("cs-true"), help: "The true spherical aberration in mm (from the manufacturer).") var csTrue: Double
    @Flag(help: "Print the result as JSON.") var json = false

    struct Output: Encodable {
        var title = "True pixel size from Z40"
        var summary: [String]
        var tables: [ReportTable]
        var file: String
        var csTrue: Double
        var groups: [ZernikeCalibration]
        var note: String
    }

    func run() throws {
        let doc = try STARDocument(path: star)
        guard let block = doc.block("optics") else {
            throw OpticsError.missingBlock(file: star, block: "optics")
        }
        let table = try OpticsTable(block: block, file: star)
        let results = try ZernikeCalibration.calibrate(table: table, csTrue: csTrue, file: star)
        let note = "These pixel sizes are right only if Cs_true (\(csTrue) mm) and each group's voltage are right."
        if json {
            let rows = results.map { r -> [String] in
                [String(r.opticsGroup), r.name, String(format: "%.4f", r.nominalPixelSize), r.z40.map { String(format: "%.4g", $0) } ?? "-",
                 r.csApparent.map { String(format: "%.4f", $0) } ?? "-", r.truePixelSize.map { String(format: "%.4f", $0) } ?? "-",
                 r.problem ?? ""]
            }
            let table = ReportTable(title: "Optics groups", columns: ["group", "name", "nominal (Å/px)", "Z40", "Cs apparent (mm)", "true (Å/px)", "problem"], rows: rows)
            try printJSON(Output(summary: ["Cs_apparent = Cs_nominal + 12·Z40·10⁻⁷/(πλ³); true pixel size = nominal × (Cs_true/Cs_apparent)^(1/4), with Cs_true = \(csTrue) mm.", note],
                                 tables: [table], file: star, csTrue: csTrue, groups: results, note: note))
        } else {
            print(Self.text(results, file: star, csTrue: csTrue, note: note), terminator: "")
        }
        let failed = results.filter { $0.problem != nil }
        if let first = failed.first {
            let list = failed.map { String($0.opticsGroup) }.joined(separator: ", ")
            let location = table.group(first.opticsGroup)?.line.map { "\(star):\($0)" } ?? star
            throw OpticsError.group(file: location, group: first.opticsGroup,
                                    reason: "\(first.problem!)\(failed.count > 1 ? " (groups without a calibration: \(list))" : "")")
        }
    }

    static func text(_ results: [ZernikeCalibration], file: String, csTrue: Double, note: String) -> String {
        func f(_ v: Double?, _ d: Int) -> String { v.map { String(format: "%.\(d)f", $0) } ?? "-" }
        var o = "Pixel size from Z40 and Cs_true = \(f(csTrue, 3)) mm (\(file))\n"
        var rows: [[String]] = [["group", "name", "pixel (Å)", "kV", "Cs (mm)", "Z40", "Cs apparent (mm)", "true pixel (Å)", "nominal off by"]]
        for r in results {
            rows.append([String(r.opticsGroup), r.name, f(r.nominalPixelSize, 4), f(r.voltage, 0), f(r.csNominal, 3),
                         r.z40.map { String(format: "%.4g", $0) } ?? "-", f(r.csApparent, 4), f(r.truePixelSize, 4),
                         r.relativeError.map { String(format: "%+.2f %%", $0 * 100) } ?? "-"])
        }
        o += formatTable(rows)
        for r in results where r.problem != nil {
            o += "optics group \(r.opticsGroup) (\(r.name)): \(r.problem!)\n"
        }
        o += note + "\n"
        o += "Keep the nominal pixel size in the STAR files; give the true one to PostProcess.\n"
        return o
    }
}

/// A table in the report folder convention of `angpix report` ({title, columns, rows}).
struct ReportTable: Encodable {
    var title: String
    var columns: [String]
    var rows: [[String]]
}

/// Left-aligned text columns separated by two spaces.
func formatTable(_ rows: [[String]]) -> String {
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: width)
    for row in rows { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
    var o = ""
    for row in rows {
        var line = ""
        for (i, c) in row.enumerated() {
            line += c
            if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - c.count + 2) }
        }
        o += line + "\n"
    }
    return o
}
