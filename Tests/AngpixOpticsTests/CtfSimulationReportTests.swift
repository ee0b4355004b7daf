// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the presentation of a pixel-size error simulation (CtfSimulationReport).

import Testing
import AngpixOptics

@Test func ctfSimulationReportOfTheReferenceCase() throws {
    let r = try CtfSimulationReport.referenceCase()
    let text = CtfSimulationReport.text(r, phaseTolerance: 9)
    #expect(text.hasPrefix("CTF at a wrong pixel size: defocus 5000.0 Å, Cs 2.700 mm, 300 kV"))
    #expect(text.contains("Without refitting (the true defocus and Cs used at the nominal pixel size):"))
    let table = CtfSimulationReport.fitTable(r)
    #expect(table.rows.count == 2 + r.fits.count)
    #expect(table.rows[0][0] == "true CTF")
    let summary = CtfSimulationReport.summary(r, phaseTolerance: 9)
    #expect(summary.count == 1 + r.fits.count)
    let plot = CtfSimulationReport.plot(r)
    #expect(plot.series.count == 2 + r.fits.count)
    #expect(plot.title == "CTF at 0.54 Å/px nominal, truly 0.51 Å/px")
}
