// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Reading PDB and mmCIF models: the shared PDB entries, alternate locations, several models,
// element columns and their fallback, gzip, and the errors for broken files.

import Foundation
import Testing
import AngpixTestSupport
@testable import AngpixModels

@Test func testReads1ORCWith559AtomRecordsAnd6SitesWithAlternateLocations() throws {
    let path = try fixture("1orc.pdb")
    let (model, format) = try ModelReader.read(path: path)
    #expect(format == .pdb)
    #expect(model.records.count == 559)
    #expect(model.atoms.count == 553)
    let summary = model.summary(format: "pdb")
    #expect(summary.elements == ["C": 316, "N": 88, "O": 154, "S": 1])
    #expect(summary.chains == ["A"])
    #expect(summary.alternateLocationRecords == 12)
    #expect(summary.bFactorMin <= summary.bFactorMean && summary.bFactorMean <= summary.bFactorMax)
    #expect(summary.boundingBoxSize.allSatisfy { $0 > 10 && $0 < 100 })
}

@Test func testReads4OZ7With181AtomsIncludingCopper() throws {
    let path = try fixture("4oz7.pdb")
    let model = try ModelReader.read(path: path).model
    #expect(model.records.count == 181)
    #expect(model.summary(format: "pdb").elements["Cu"] == 2)
}

@Test func testReads5CVZWith1061Atoms() throws {
    let path = try fixture("5cvz_final.pdb")
    let model = try ModelReader.read(path: path).model
    #expect(model.records.count == 1061)
}

@Test func testAlternateLocationKeepsHighestOccupancyWithSummedWeight() throws {
    let dir = TemporaryDirectory()
    let text = """
    ATOM      1  CA ALYS A   5      10.000  10.000  10.000  0.40 20.00           C
    ATOM      2  CA BLYS A   5      11.000  10.000  10.000  0.60 25.00           C
    ATOM      3  N   LYS A   5       9.000  10.000  10.000  1.00 20.00           N
    """
    let model = try ModelReader.read(path: dir.write("alt.pdb", text)).model
    #expect(model.records.count == 3)
    #expect(model.atoms.count == 2)
    let ca = try #require(model.atoms.first { $0.name == "CA" })
    #expect(ca.x == 11 && ca.alternateLocation == "B" && abs(ca.occupancy - 1) < 1e-12)
}

@Test func testOnlyTheFirstModelIsRead() throws {
    let dir = TemporaryDirectory()
    let text = """
    MODEL        1
    ATOM      1  CA  GLY A   1       1.000   2.000   3.000  1.00 10.00           C
    ENDMDL
    MODEL        2
    ATOM      1  CA  GLY A   1       4.000   5.000   6.000  1.00 10.00           C
    ATOM      2  N   GLY A   1       4.000   5.000   7.000  1.00 10.00           N
    ENDMDL
    """
    let model = try ModelReader.read(path: dir.write("models.pdb", text)).model
    #expect(model.records.count == 1 && model.modelCount == 2)
    #expect(model.atoms[0].x == 1)
}

@Test func testElementFromAtomNameWhenColumnsAreMissing() throws {
    let dir = TemporaryDirectory()
    let text = """
    ATOM      1  CA  GLY A   1       1.000   2.000   3.000  1.00 10.00
    HETATM    2 CA    CA A 101       4.000   5.000   6.000  1.00 10.00
    HETATM    3 FE   HEM A 102       4.000   5.000   6.000  1.00 10.00
    ATOM      4 HG21 THR A   2       4.000   5.000   6.000  1.00 10.00
    ATOM      5  OG1 THR A   2       4.000   5.000   6.000  1.00 10.00
    """
    let model = try ModelReader.read(path: dir.write("noelement.pdb", text)).model
    #expect(model.records.map(\.element) == ["C", "Ca", "Fe", "H", "O"])
    #expect(model.records[1].isHetero)
}

@Test func testGzipCompressedPDBReadsLikeThePlainFile() throws {
    let path = try fixture("1orc.pdb")
    let dir = TemporaryDirectory()
    let copy = dir.file("1orc.pdb")
    try FileManager.default.copyItem(atPath: path, toPath: copy)
    let result = try runProcess("/usr/bin/env", ["gzip", "-k", copy])
    try #require(result.status == 0)
    let plain = try ModelReader.read(path: copy).model
    let gz = try ModelReader.read(path: copy + ".gz").model
    #expect(gz.records == plain.records)
}

@Test func testTruncatedGzipIsAnErrorNamingTheFile() throws {
    let path = try fixture("1pfe.cif.gz")
    let dir = TemporaryDirectory()
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let cut = dir.file("cut.cif.gz")
    try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: cut))
    #expect {
        _ = try ModelReader.read(path: cut)
    } throws: { error in
        guard let e = error as? ModelError, case .gzip = e else { return false }
        return e.description.contains("cut.cif.gz")
    }
}

@Test func testFileWithoutAtomsIsNotAModel() throws {
    let dir = TemporaryDirectory()
    let path = dir.write("empty.pdb", "HEADER    NOTHING\nREMARK nothing here\nEND\n")
    #expect(throws: ModelError.noAtoms(path: path)) { _ = try ModelReader.read(path: path) }
}

@Test func testUnparseableCoordinateNamesFileAndLine() throws {
    let dir = TemporaryDirectory()
    let text = """
    ATOM      1  CA  GLY A   1       1.000   2.000   3.000  1.00 10.00           C
    ATOM      2  N   GLY A   1       1.000   x.abc   3.000  1.00 10.00           N
    """
    let path = dir.write("bad.pdb", text)
    #expect {
        _ = try ModelReader.read(path: path)
    } throws: { error in
        String(describing: error).hasPrefix("\(path):2: cannot read the coordinates")
    }
}

@Test func testUnparseableBFactorNamesFileAndLine() throws {
    let dir = TemporaryDirectory()
    let text = "ATOM      1  CA  GLY A   1       1.000   2.000   3.000  1.00 1O.00           C\n"
    let path = dir.write("badb.pdb", text)
    #expect {
        _ = try ModelReader.read(path: path)
    } throws: { error in
        String(describing: error).hasPrefix("\(path):1: cannot read the B-factor")
    }
}

@Test func testReads1PFECompressedMMCIFWithAlternateLocations() throws {
    let path = try fixture("1pfe.cif.gz")
    let (model, format) = try ModelReader.read(path: path)
    #expect(format == .mmcif)
    #expect(model.records.count == 342)
    let summary = model.summary(format: "mmcif")
    #expect(summary.elements["Cl"] == 1 && summary.elements["P"] == 8)
    #expect(summary.alternateLocationRecords == 50)
    // 10 pairs of alternate atoms and 14 of alternate residues (N2C/NCY at residues 3 and 7)
    // share sites; two waters with alternate locations are distinct sites.
    #expect(model.atoms.count == 342 - 24)
    let first = model.records[0]
    #expect(first.name == "O5'" && first.residueName == "DG" && abs(first.x + 12.480) < 1e-9 && abs(first.bFactor - 28.27) < 1e-9)
}

@Test func testMMCIFBadCoordinateNamesFileAndLine() throws {
    let dir = TemporaryDirectory()
    let text = """
    data_TEST
    loop_
    _atom_site.group_PDB
    _atom_site.id
    _atom_site.type_symbol
    _atom_site.label_atom_id
    _atom_site.Cartn_x
    _atom_site.Cartn_y
    _atom_site.Cartn_z
    ATOM 1 C CA 1.0 2.0 3.0
    ATOM 2 N N 1.0 abc 3.0
    """
    let path = dir.write("bad.cif", text)
    #expect {
        _ = try ModelReader.read(path: path)
    } throws: { error in
        String(describing: error).hasPrefix("\(path):11: cannot read the coordinates")
    }
}

@Test func testMMCIFWithoutAtomSiteIsNotAModel() throws {
    let dir = TemporaryDirectory()
    let path = dir.write("other.cif", "data_X\n_cell.length_a 10.0\n")
    #expect(throws: ModelError.noAtoms(path: path)) { _ = try ModelReader.read(path: path) }
}
