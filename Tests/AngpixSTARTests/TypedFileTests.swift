// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// STARTypedFile reads large loops in one pass (tokenize and convert each line, rows written in
// place by pieces). Whatever path a table takes, it must give exactly what the lossless document
// gives, with the same errors.

import Testing
import Foundation
import AngpixCore
import AngpixTestSupport
@testable import AngpixSTAR

@Suite struct TypedFileTests {
    /// A RELION 3.1 particle file of `rows` rows (several MB, so the one-pass reader is used), with
    /// `extra(r)` lines inserted before row r (blank lines, comments) and `cell(r, column, value)`
    /// to replace a value.
    private func particleFile(rows: Int, extra: (Int) -> String = { _ in "" },
                              cell: (Int, Int, String) -> String = { _, _, v in v }) -> String {
        var text = relionOpticsBlock([TestOpticsGroup(number: 1, name: "opticsGroup1", pixelSize: "1.000000", box: 256),
                                      TestOpticsGroup(number: 2, name: "opticsGroup2", pixelSize: "1.050000", box: 256)])
        text += "\n# version 30001\n\ndata_particles\n\nloop_ \n_rlnCoordinateX #1 \n_rlnImageName #2 \n_rlnClassNumber #3 \n_rlnDefocusU #4 \n_rlnAnglePsi #5 \n_rlnOpticsGroup #6 \n_rlnLogLikeliContribution #7 \n"
        text.reserveCapacity(rows * 150)
        for r in 0..<rows {
            text += extra(r)
            let values = [String(format: "%12.6f", Double(r) * 0.731 - 999.5),
                          String(format: "%06d@Extract/job007/Movies/mic_%06d.mrcs", r % 500 + 1, r / 500),
                          String(format: "%12d", r % 50 - 7),
                          String(format: "%12.6f", 15000 + Double(r) * 0.25),
                          String(format: "%12.6f", Double(r % 7200) * 0.05 - 180),
                          String(format: "%12d", 1 + r % 2),
                          String(format: "%12.6e", 1.2e5 + Double(r) * 0.37)]
            text += " " + values.enumerated().map { cell(r, $0.offset, $0.element) }.joined(separator: " ") + " \n"
        }
        return text
    }

    /// Checks every table and column against `STARDocument` read column by column.
    private func expectSameAsDocument(_ typed: STARTypedFile, _ path: String) throws {
        let doc = try STARDocument(path: path)
        #expect(typed.tables.map(\.name) == doc.blocks.map(\.name))
        for (t, b) in zip(typed.tables, doc.blocks) {
            #expect(t.labels == b.labels)
            #expect(t.rowCount == b.rowCount)
            for label in t.labels {
                switch t.type(of: label) {
                case .double: #expect(t.columns.doubles[label] == (try b.doubles(label)), "\(label)")
                case .int: #expect(t.columns.ints[label] == (try b.ints(label)), "\(label)")
                case .text: #expect(t.columns.texts[label].map(Array.init) == (try b.strings(label)), "\(label)")
                case nil: Issue.record("\(label) missing")
                }
            }
        }
    }

    @Test func typedFileEqualsTheDocumentColumnByColumn() throws {
        let dir = TemporaryDirectory()
        let path = dir.write("p.star", particleFile(rows: 60_000))
        let typed = try STARTypedFile(path: path)
        let p = try #require(typed.table("particles"))
        #expect(p.rowCount == 60_000)
        #expect(p.type(of: "rlnCoordinateX") == .double && p.type(of: "rlnClassNumber") == .int)
        #expect(p.type(of: "rlnImageName") == .text && p.type(of: "rlnLogLikeliContribution") == .double)
        #expect(p.columns.doubles["rlnLogLikeliContribution"]?[59_999] == strtod(String(format: "%12.6e", 1.2e5 + 59_999 * 0.37), nil))
        #expect(p.columns.texts["rlnImageName"]?[1234] == "000235@Extract/job007/Movies/mic_000002.mrcs")
        let o = try #require(typed.table("optics"))
        #expect(o.columns.doubles["rlnImagePixelSize"] == [1.0, 1.05] && o.columns.ints["rlnImageSize"] == [256, 256])
        try expectSameAsDocument(typed, path)
    }

    @Test func blankAndCommentLinesInsideTheLoopAreClosedUp() throws {
        let dir = TemporaryDirectory()
        let text = particleFile(rows: 50_000, extra: { r in r % 997 == 5 ? "\n   \n# a comment\n" : r % 4001 == 7 ? "\r\n" : "" },
                                cell: { r, c, v in r % 1999 == 3 && c == 1 ? "'\(v)'" : v })
        let path = dir.write("gaps.star", text)
        let typed = try STARTypedFile(path: path)
        #expect(typed.table("particles")?.rowCount == 50_000)
        #expect(typed.table("particles")?.columns.texts["rlnImageName"]?[3] == "000004@Extract/job007/Movies/mic_000000.mrcs")
        try expectSameAsDocument(typed, path)
    }

    @Test func columnTypesWidenWhenALaterValueNeedsIt() throws {
        let dir = TemporaryDirectory()
        let path = dir.write("widen.star", particleFile(rows: 40_000, cell: { r, c, v in
            if r == 35_000 && c == 2 { return "1.5" }          // rlnClassNumber: int -> double
            if r == 39_000 && c == 4 { return "n/a" }          // rlnAnglePsi: double -> text
            return v
        }))
        let typed = try STARTypedFile(path: path)
        let p = try #require(typed.table("particles"))
        #expect(p.type(of: "rlnClassNumber") == .double && p.columns.doubles["rlnClassNumber"]?[35_000] == 1.5)
        #expect(p.type(of: "rlnAnglePsi") == .text && p.columns.texts["rlnAnglePsi"]?[39_000] == "n/a")
        #expect(p.type(of: "rlnCoordinateX") == .double)
        try expectSameAsDocument(typed, path)
    }

    @Test func aFixedTypeNamesTheFileAndLineOfABadValue() throws {
        let dir = TemporaryDirectory()
        let text = particleFile(rows: 40_000, cell: { r, c, v in r == 30_000 && c == 0 ? "oops" : v })
        let path = dir.write("bad.star", text)
        let line = text.prefix(upTo: text.range(of: " oops ")!.lowerBound).filter { $0 == "\n" }.count + 1
        let e = #expect(throws: STARError.self) { try STARTypedFile(path: path, types: ["rlnCoordinateX": .double]) }
        #expect(e?.description.hasPrefix("\(path):\(line):") == true, "\(String(describing: e))")
        #expect(e?.description.contains("oops") == true, "\(String(describing: e))")
        // Inferred, the column becomes text.
        #expect(try STARTypedFile(path: path).table("particles")?.type(of: "rlnCoordinateX") == .text)
    }

    @Test func onlyTheNamedColumnsAreRead() throws {
        let dir = TemporaryDirectory()
        // A value that is not a number in a column that is not asked for does not matter.
        let path = dir.write("only.star", particleFile(rows: 40_000, cell: { r, c, v in r == 30_000 && c == 0 ? "oops" : v }))
        let all = try STARTypedFile(path: path)
        let some = try STARTypedFile(path: path, types: ["rlnCoordinateX": .double],
                                     only: ["rlnDefocusU", "rlnImageName", "rlnOpticsGroup", "rlnImagePixelSize"])
        let p = try #require(some.table("particles")), q = try #require(all.table("particles"))
        #expect(p.rowCount == 40_000 && p.labels == q.labels)
        #expect(p.columns.doubles.keys.sorted() == ["rlnDefocusU"] && p.columns.ints.keys.sorted() == ["rlnOpticsGroup"])
        #expect(p.columns.texts.keys.sorted() == ["rlnImageName"] && p.type(of: "rlnCoordinateX") == nil)
        #expect(p.columns.doubles["rlnDefocusU"] == q.columns.doubles["rlnDefocusU"])
        #expect(p.columns.ints["rlnOpticsGroup"] == q.columns.ints["rlnOpticsGroup"])
        #expect(p.columns.texts["rlnImageName"].map(Array.init) == q.columns.texts["rlnImageName"].map(Array.init))
        #expect(some.table("optics")?.columns.doubles.keys.sorted() == ["rlnImagePixelSize"])
        #expect(some.table("optics")?.columns.ints.keys.sorted() == ["rlnOpticsGroup"])   // in every table
    }

    @Test func aShortRowIsTheSameErrorAsForTheDocument() throws {
        let dir = TemporaryDirectory()
        let text = particleFile(rows: 40_000, cell: { r, c, v in r == 33_333 && c == 6 ? "" : v })
        let path = dir.write("short.star", text)
        let documentError = #expect(throws: STARError.self) { _ = try STARDocument(path: path) }
        let typedError = #expect(throws: STARError.self) { _ = try STARTypedFile(path: path) }
        #expect(documentError?.description.hasPrefix(path + ":") == true, "\(String(describing: documentError))")
        #expect(documentError?.description.contains("row has 6 values, the table has 7 columns") == true)
        #expect(typedError != nil && typedError == documentError)
    }

    @Test func aLoopFollowedByMoreBlocksEndsWhereItEnds() throws {
        let dir = TemporaryDirectory()
        let text = particleFile(rows: 45_000) + "\ndata_general\n\n_rlnFinalResolution 3.2\n_rlnNote 'two words'\n\ndata_extra\n\nloop_\n_rlnA #1\n_rlnB #2\n1 x\n2 y\n"
        let path = dir.write("more.star", text)
        let typed = try STARTypedFile(path: path)
        #expect(typed.tables.map(\.name) == ["optics", "particles", "general", "extra"])
        #expect(typed.table("particles")?.rowCount == 45_000)
        #expect(typed.table("general")?.columns.doubles["rlnFinalResolution"] == [3.2])
        #expect(typed.table("general")?.columns.texts["rlnNote"]?[0] == "two words")
        #expect(typed.table("extra")?.columns.ints["rlnA"] == [1, 2])
        try expectSameAsDocument(typed, path)
    }

    @Test func rowsBeyondTheFirstMegabytesEstimateAreStillRead() throws {
        // Long rows first, then many short ones: more rows than the first megabyte predicts.
        let dir = TemporaryDirectory()
        var text = "data_\n\nloop_\n_rlnA #1\n_rlnB #2\n"
        let pad = String(repeating: "x", count: 2000)
        for r in 0..<600 { text += "\(r) \(pad)\n" }
        for r in 600..<400_000 { text += "\(r) y\n" }
        let path = dir.write("skew.star", text)
        let typed = try STARTypedFile(path: path)
        #expect(typed.tables[0].rowCount == 400_000)
        #expect(typed.tables[0].columns.ints["rlnA"]?.last == 399_999)
        try expectSameAsDocument(typed, path)
    }

    /// Tiny pieces put piece boundaries everywhere: on blank and comment lines, before the line
    /// that ends the loop, inside runs of quoted or CRLF rows. Every size must read what the
    /// document reads.
    @Test(arguments: [16, 64, 100, 333, 1000, 4096])
    func tinyPiecesReadWhatTheDocumentReads(pieceBytes: Int) throws {
        var rng = SplitMix64(seed: UInt64(pieceBytes))
        var text = "data_optics\nloop_\n_rlnOpticsGroup\n_rlnImagePixelSize\n1 1.0\n2 1.1\n\ndata_particles\nloop_\n_rlnA #1\n_rlnB #2\n_rlnC #3\n"
        for r in 0..<2000 {
            switch rng.unit() {
            case ..<0.03: text += "\n"
            case ..<0.05: text += "# comment \(r)\n"
            case ..<0.07: text += "   \t \n"
            default: break
            }
            let b = rng.unit() < 0.05 ? "'quoted \(r)'" : String(format: "%.6f", rng.uniform(-1000, 1000))
            let c = r == 1500 && pieceBytes == 333 ? "2.5" : "\(r % 9)"
            text += "  \(r)  \(b) \(c)" + (rng.unit() < 0.05 ? "\r\n" : "\n")
        }
        text += "\ndata_general\n_rlnFinalResolution 3.2\n\ndata_extra\nloop_\n_rlnX\n_rlnY\n_rlnZ\n"
        for r in 0..<300 { text += "\(r) \(r * 2) \(r * 3)\n" }      // rows a later piece may see first
        let doc = try STARDocument(text: text, name: "t.star")
        let typed = try STARTypedFile(text: text, name: "t.star", pieceBytes: pieceBytes)
        #expect(typed.tables.map(\.name) == ["optics", "particles", "general", "extra"])
        #expect(typed.table("particles")?.rowCount == 2000)
        #expect(typed.table("particles")?.type(of: "rlnC") == (pieceBytes == 333 ? .double : .int))
        for (t, b) in zip(typed.tables, doc.blocks) {
            #expect(t.rowCount == b.rowCount)
            for label in t.labels {
                switch t.type(of: label) {
                case .double: #expect(t.columns.doubles[label] == (try b.doubles(label)), "\(label)")
                case .int: #expect(t.columns.ints[label] == (try b.ints(label)), "\(label)")
                default: #expect(t.columns.texts[label].map(Array.init) == (try b.strings(label)), "\(label)")
                }
            }
        }
        // A bad row is the same error whichever piece it falls in.
        let bad = text.replacingOccurrences(of: "\n  1777  ", with: "\n  1777 ")
            .replacingOccurrences(of: "\n  1777 ", with: "\n  1777 x y ")
        let documentError = #expect(throws: STARError.self) { _ = try STARDocument(text: bad, name: "t.star") }
        let typedError = #expect(throws: STARError.self) { _ = try STARTypedFile(text: bad, name: "t.star", pieceBytes: pieceBytes) }
        #expect(documentError?.description.hasPrefix("t.star:") == true, "\(String(describing: documentError))")
        #expect(typedError != nil && typedError == documentError)
    }

    @Test func smallFilesAndMmCIFGoThroughTheDocumentPath() throws {
        let cif = """
        data_1ABC
        _entry.id 1ABC
        loop_
        _atom_site.group_PDB
        _atom_site.id
        _atom_site.type_symbol
        _atom_site.Cartn_x
        _atom_site.B_iso_or_equiv
        ATOM 1 N 11.104
        20.5
        ATOM 2 C 12.560 21.25
        HETATM 3 O 13.0 "30"

        """
        let typed = try STARTypedFile(text: cif, name: "a.cif")
        let atoms = try #require(typed.tables.first { $0.labels.contains("atom_site.id") })
        #expect(atoms.rowCount == 3)
        #expect(atoms.columns.ints["atom_site.id"] == [1, 2, 3])
        #expect(atoms.columns.doubles["atom_site.Cartn_x"] == [11.104, 12.560, 13.0])
        #expect(atoms.columns.doubles["atom_site.B_iso_or_equiv"] == [20.5, 21.25, 30])
        #expect(atoms.columns.texts["atom_site.type_symbol"].map(Array.init) == ["N", "C", "O"])
        let e = #expect(throws: STARError.self) { try STARTypedFile(text: "data_\nloop_\n_rlnA\n_rlnB\n1 2\n3\n", name: "s.star") }
        #expect(e?.description == "s.star:6: row has 1 value, the table has 2 columns", "\(String(describing: e))")
    }
}
