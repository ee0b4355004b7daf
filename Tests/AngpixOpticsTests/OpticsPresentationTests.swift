// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the presentation of optics results: the optics trace's text and JSON document, and the
// Z40 calibration's table and text.

import Foundation
import Testing
import AngpixOptics

@Test func opticsTraceTextAndReportListTheGroups() throws {
    let r = try OpticsTrace.trace(groups: traceGroups, referencePixelSize: 1.00, anchor: .group(1, 1.00))
    let lines = r.text.split(separator: "\n").map(String.init)
    #expect(lines[0] == "Following relion_refine of RELION 3.1: every optics group is rescaled to the reference's pixel size 1.0000 Å/px;")
    #expect(lines.contains { $0.hasPrefix("2 ") && $0.contains("dataset2") && $0.contains("0.9500") })
    #expect(lines.contains { $0.hasPrefix("Reconstruction: header 1.0000 Å/px, truly 0.9900 Å/px") })
    let report = OpticsTraceReport(r)
    #expect(report.tables[0].rows.count == 2)
    #expect(report.tables[0].rows[1][5] == "0.9000")
    let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
    #expect(json.contains("\"title\"") && json.contains("\"groups\""))
}

@Test func zernikeCalibrationTableAndText() throws {
    let (c, z40) = try calibrationOfA6PercentPixelSizeError()
    let table = ZernikeCalibration.reportTable([c])
    #expect(table.rows == [["1", "g", "0.5400", String(format: "%.4g", z40), String(format: "%.4f", c.csApparent!), "0.5100", ""]])
    let text = ZernikeCalibration.text([c], file: "f.star", csTrue: 2.7, note: "a note")
    #expect(text.hasPrefix("Pixel size from Z40 and Cs_true = 2.700 mm (f.star)\n"))
    #expect(text.hasSuffix("a note\nKeep the nominal pixel size in the STAR files; give the true one to PostProcess.\n"))
    let report = ZernikeCalibrationReport(summary: ["s"], file: "f.star", csTrue: 2.7, groups: [c], note: "a note")
    #expect(report.tables == [table] && report.title == "True pixel size from Z40")
}
