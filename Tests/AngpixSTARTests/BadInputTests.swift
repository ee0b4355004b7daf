// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Bad input: each error names the file, the line where there is one, and what is wrong.

import Testing
import Foundation
@testable import AngpixSTAR
import AngpixCore
import AngpixTestSupport

/// The message of the error `body` throws, which must be an `E` (a STARError unless told);
/// another type of error gives a message saying so, which no expected text matches.
private func message<E: AngpixError>(_ type: E.Type = STARError.self, _ body: () throws -> Void) -> String? {
    do { try body(); return nil } catch let e as E { return e.description } catch {
        return "unexpected \(Swift.type(of: error)) instead of \(E.self): \(error)"
    }
}

@Suite struct BadInputTests {
    @Test func rowWithTooFewValues() {
        let text = "data_p\nloop_\n_rlnA #1\n_rlnB #2\n_rlnC #3\n1 2 3\n4 5\n6 7 8\n"
        #expect(message { _ = try STARDocument(text: text, name: "p.star") } == "p.star:7: row has 2 values, the table has 3 columns")
    }

    @Test func rowWithTooManyValues() {
        let text = "data_p\nloop_\n_rlnA #1\n_rlnB #2\n1 2\n3 4 5\n"
        #expect(message { _ = try STARDocument(text: text, name: "p.star") } == "p.star:6: row has 3 values, the table has 2 columns")
    }

    @Test func streamTableWithIncompleteLastRow() {
        let text = "data_x\nloop_\n_a.b\n_a.c\n1\n2 3\n"
        #expect(message { _ = try STARDocument(text: text, name: "x.cif") } == "x.cif:6: row has 1 value, the table has 2 columns")
    }

    @Test func unterminatedQuote() {
        let text = "data_p\nloop_\n_rlnA #1\n_rlnB #2\n1 'abc\n"
        #expect(message { _ = try STARDocument(text: text, name: "p.star") } == "p.star:5: unterminated quote '")
        let kv = "data_g\n_rlnName \"abc\n"
        #expect(message { _ = try STARDocument(text: kv, name: "g.star") } == "g.star:2: unterminated quote \"")
    }

    @Test func labelRepeatedInOneTable() {
        let text = "data_p\nloop_\n_rlnA #1\n_rlnB #2\n_rlnA #3\n1 2 3\n"
        #expect(message { _ = try STARDocument(text: text, name: "p.star") } == "p.star:5: label _rlnA appears twice in one loop_")
        let kv = "data_g\n_rlnA 1\n_rlnA 2\n"
        #expect(message { _ = try STARDocument(text: kv, name: "g.star") } == "g.star:3: label _rlnA appears twice in data_g")
    }

    @Test func opticsLoopWithLabelsButNoRows() throws {
        let text = "data_optics\nloop_\n_rlnOpticsGroup #1\n_rlnImagePixelSize #2\n\ndata_particles\nloop_\n_rlnOpticsGroup #1\n1\n"
        let doc = try STARDocument(text: text, name: "p.star")
        #expect(message { _ = try RelionParticleFile(document: doc) } == "p.star: data_optics has labels but no optics groups (no rows)")
    }

    @Test func particleReferencingMissingOpticsGroup() throws {
        let text = dataset1.replacingOccurrences(of: "-2.00000 1 ", with: "-2.00000 3 ")
        let doc = try STARDocument(text: text, name: "d1.star")
        #expect(message { _ = try RelionParticleFile(document: doc) } ==
                "d1.star:29: particle references optics group 3, which the data_optics table lacks (it has 1)")
    }

    @Test func relion31ParticleFileWithoutOptics() throws {
        let text = "data_particles\nloop_\n_rlnImageName #1\n_rlnOpticsGroup #2\n1@a.mrcs 1\n"
        let doc = try STARDocument(text: text, name: "p.star")
        #expect(message { _ = try RelionParticleFile(document: doc) } ==
                "p.star: RELION 3.1 particles file without a data_optics table (each row's rlnOpticsGroup refers to it)")
    }

    @Test func nonNumericValueInNumericColumn() throws {
        let doc = try STARDocument(text: dataset1.replacingOccurrences(of: "1.4e-05", with: "1.4x-05"), name: "d1.star")
        #expect(message { _ = try doc.block("particles")!.doubles("rlnDefocusU") } == "d1.star:28: rlnDefocusU value '1.4x-05' is not a number")
        #expect(message { _ = try doc.block("particles")!.ints("rlnImageName") } ==
                "d1.star:28: rlnImageName value '000001@Extract/job007/a.mrcs' is not an integer")
        #expect(message { _ = try doc.block("particles")!.doubles("rlnMissing") } == "d1.star: data_particles has no _rlnMissing column")
        let optics = try STARDocument(text: dataset1.replacingOccurrences(of: "300.000000", with: "3OO"), name: "d1.star")
        #expect(message { _ = try RelionParticleFile(document: optics) } == "d1.star:16: rlnVoltage value '3OO' is not a number")
    }

    @Test func emptyBinaryAndMissingFiles() throws {
        let dir = TemporaryDirectory()
        let empty = dir.write("empty.star", "")
        #expect(message { _ = try STARDocument(path: empty) } == "\(empty): empty file, not a STAR file")
        let blank = dir.write("blank.star", "\n  \n# only a comment\n")
        #expect(message { _ = try STARDocument(path: blank) } == "\(blank): no data_ block, not a STAR file")
        let binary = dir.file("map.mrc")
        FileManager.default.createFile(atPath: binary, contents: Data([10, 0, 0, 0, 10, 0, 0, 0, 2, 0, 0, 0]))
        #expect(message { _ = try STARDocument(path: binary) } == "\(binary): binary file (NUL bytes), not a STAR file")
        let missing = dir.file("missing.star")
        #expect(message(CoreError.self) { _ = try STARDocument(path: missing) } == "\(missing): no such file")
        #expect(message { _ = try STARDocument(text: "hello\ndata_x\n", name: "t.star") } == "t.star:1: text before the first data_ block: 'hello'")
        #expect(message { _ = try STARDocument(text: "data_x\n_rlnA\n", name: "t.star") } == "t.star:2: _rlnA has no value")
        #expect(message { _ = try STARDocument(text: "data_x\nloop_\n1 2\n", name: "t.star") } == "t.star:2: loop_ without labels")
    }
}
