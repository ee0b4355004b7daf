// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The presentation of a Z40 calibration (ZernikeCalibration): the optics-group table for reports
// and JSON, the text `angpix calibrate zernike` prints, and the JSON document it writes.

import Foundation
import AngpixCore
import AngpixReport

/// The JSON document of a Z40 calibration (`angpix calibrate zernike --json`, the demo's section).
public struct ZernikeCalibrationReport: Encodable {
    public var title = "True pixel size from Z40"
    public var summary: [String]
    public var tables: [ReportTable]
    public var file: String
    /// The true spherical aberration used (mm).
    public var csTrue: Double
    public var groups: [ZernikeCalibration]
    public var note: String

    /// The document for `groups`, with their table (`ZernikeCalibration.reportTable`).
    public init(summary: [String], file: String, csTrue: Double, groups: [ZernikeCalibration], note: String) {
        self.summary = summary
        tables = [ZernikeCalibration.reportTable(groups)]
        self.file = file
        self.csTrue = csTrue
        self.groups = groups
        self.note = note
    }
}

extension ZernikeCalibration {
    /// The optics groups' calibration as a report table (pixel sizes in Å, Cs in mm).
    public static func reportTable(_ results: [ZernikeCalibration]) -> ReportTable {
        let rows = results.map { r -> [String] in
            [String(r.opticsGroup), r.name, formatFixed(r.nominalPixelSize, decimals: 4), r.z40.map { formatSignificant($0, digits: 4) } ?? "-",
             formatFixed(r.csApparent, decimals: 4, missing: "-"), formatFixed(r.truePixelSize, decimals: 4, missing: "-"),
             r.problem ?? ""]
        }
        return ReportTable(title: "Optics groups", columns: ["group", "name", "nominal (Å/px)", "Z40", "Cs apparent (mm)", "true (Å/px)", "problem"], rows: rows)
    }

    /// The calibration as text for a terminal: a table of the optics groups, their problems and `note`.
    public static func text(_ results: [ZernikeCalibration], file: String, csTrue: Double, note: String) -> String {
        var o = "Pixel size from Z40 and Cs_true = \(formatFixed(csTrue, decimals: 3, missing: "-")) mm (\(file))\n"
        var rows: [[String]] = [["group", "name", "pixel (Å)", "kV", "Cs (mm)", "Z40", "Cs apparent (mm)", "true pixel (Å)", "nominal off by"]]
        for r in results {
            rows.append([String(r.opticsGroup), r.name, formatFixed(r.nominalPixelSize, decimals: 4, missing: "-"), formatFixed(r.voltage, decimals: 0, missing: "-"), formatFixed(r.csNominal, decimals: 3, missing: "-"),
                         r.z40.map { formatSignificant($0, digits: 4) } ?? "-", formatFixed(r.csApparent, decimals: 4, missing: "-"), formatFixed(r.truePixelSize, decimals: 4, missing: "-"),
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
