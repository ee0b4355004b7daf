// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of STAR file-kind classification and the `star info` summary (STARFileKind, STARFileSummary).

import Testing
import AngpixSTAR

@Test func starFileKindsFromBlocksAndColumns() throws {
    #expect(STARFileKind(try STARDocument(text: dataset1)) == .relion31(table: "particles"))
    let relion30 = try STARDocument(text: "data_\nloop_\n_rlnImageName #1\n_rlnDefocusU #2\n000001@a.mrcs 10000\n")
    #expect(STARFileKind(relion30) == .relion30)
    #expect(STARFileKind(relion30).description == "RELION 3.0 (no optics table)")
    let cif = try STARDocument(text: "data_model\nloop_\n_atom_site.Cartn_x\n_atom_site.Cartn_y\n1.0 2.0\n")
    #expect(STARFileKind(cif) == .mmCIF)
    let other = try STARDocument(text: "data_general\n_rlnFinalResolution 3.2\n")
    #expect(STARFileKind(other) == .other && STARFileKind(other).description == "STAR")
    let micrographs = try STARDocument(text: "data_optics\nloop_\n_rlnOpticsGroup\n1\ndata_micrographs\nloop_\n_rlnMicrographName\n_rlnOpticsGroup\na.mrc 1\n")
    #expect(STARFileKind(micrographs).description == "RELION 3.1+ micrographs")
}

@Test func starFileSummaryCountsRowsPerOpticsGroup() throws {
    let summary = try STARFileSummary(document: try STARDocument(text: dataset1), file: "d1.star")
    #expect(summary.kind == "RELION 3.1+ particles" && summary.table == "particles")
    #expect(summary.blocks.map(\.name) == ["optics", "particles"])
    let groups = try #require(summary.opticsGroups)
    #expect(groups.count == 1 && groups[0].name == "dataset1" && groups[0].pixelSize == 1.0 && groups[0].imageSize == 140)
    #expect(groups[0].rows == summary.blocks[1].rows)
    let lines = summary.text.split(separator: "\n").map(String.init)
    #expect(lines[0] == "d1.star: RELION 3.1+ particles")
    #expect(lines[1].hasPrefix("  data_optics ") && lines[1].hasSuffix("loop  1 row, 9 columns"))
    #expect(lines.contains("optics groups:"))
    #expect(lines.last?.contains("dataset1") == true && lines.last?.contains("1.0000") == true)
}
