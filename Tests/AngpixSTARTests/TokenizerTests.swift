// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tokenizer and document tests: every piece of STAR syntax RELION 3.0–5 and the PDB's mmCIF use.

import Testing
import Foundation
@testable import AngpixSTAR
import AngpixCore
import AngpixTestSupport

let dataset1 = """

# version 30001

data_optics

loop_ 
_rlnOpticsGroup #1 
_rlnOpticsGroupName #2 
_rlnAmplitudeContrast #3 
_rlnSphericalAberration #4 
_rlnVoltage #5 
_rlnImagePixelSize #6 
_rlnMicrographOriginalPixelSize #7 
_rlnImageSize #8 
_rlnImageDimensionality #9 
           1  dataset1     0.100000     2.700000   300.000000     1.000000     1.000000          140            2
 

# version 30001

data_particles

loop_ 
_rlnCoordinateX #1 
_rlnImageName #2 
_rlnDefocusU #3 
_rlnOpticsGroup #4 
  100.000000 000001@Extract/job007/a.mrcs 1.4e-05 1 
  200.500000 000002@Extract/job007/a.mrcs -2.00000 1 
 

"""

@Suite struct TokenizerTests {
    @Test func readsRelion31OpticsAndParticles() throws {
        let doc = try STARDocument(text: dataset1)
        #expect(doc.blocks.map(\.name) == ["optics", "particles"])
        let optics = try #require(doc.block("optics"))
        #expect(optics.isLoop)
        #expect(optics.labels.count == 9)
        #expect(optics.labels[0] == "rlnOpticsGroup")
        #expect(optics.rowCount == 1)
        #expect(optics.string(row: 0, "rlnOpticsGroupName") == "dataset1")
        let particles = try #require(doc.block("particles"))
        #expect(particles.rowCount == 2)
        #expect(try particles.doubles("rlnDefocusU") == [1.4e-05, -2.0])
        #expect(try particles.ints("rlnOpticsGroup") == [1, 1])
        #expect(particles.string(row: 1, "rlnImageName") == "000002@Extract/job007/a.mrcs")
    }

    @Test func unchangedDocumentIsWrittenByteForByte() throws {
        let doc = try STARDocument(text: dataset1)
        #expect(doc.serialized() == dataset1)
    }

    @Test func severalBlocksKeyValuesAndLoops() throws {
        let text = """
        data_general
        _rlnFinalResolution    3.2 # a comment
        _rlnBfactorUsedForSharpening  -85.5
        _rlnUnfilteredMapHalf1 "half 1.mrc"

        data_fsc
        loop_
        _rlnSpectralIndex #1
        _rlnResolution #2
        0 999.0
        1 0.01
        """
        let doc = try STARDocument(text: text)
        #expect(doc.blocks.count == 2)
        let general = try #require(doc.block("general"))
        #expect(!general.isLoop)
        #expect(general.value("rlnFinalResolution") == "3.2")
        #expect(try general.doubleValue("rlnBfactorUsedForSharpening") == -85.5)
        #expect(general.value("rlnUnfilteredMapHalf1") == "half 1.mrc")
        let fsc = try #require(doc.block("fsc"))
        #expect(try fsc.ints("rlnSpectralIndex") == [0, 1])
        #expect(try fsc.doubles("rlnResolution") == [999.0, 0.01])
        #expect(doc.serialized() == text)
    }

    @Test func quotesIncludingEmptyString() throws {
        let text = "data_x\nloop_\n_a\n_b\n_c\n'it is' \"\" plain\n\"x'y\" 'a\"b' ''\n"
        let block = try #require(try STARDocument(text: text).block("x"))
        #expect(try block.strings("a") == ["it is", "x'y"])
        #expect(try block.strings("b") == ["", "a\"b"])
        #expect(try block.strings("c") == ["plain", ""])
    }

    @Test func crlfLineEndsBlankLinesAndLastRowWithoutNewline() throws {
        let text = "data_\r\n\r\n   \t \r\nloop_\r\n_rlnMicrographName #1\r\n_rlnDefocusU #2\r\n\r\na.mrc 10000.0\r\n  \r\nb.mrc 12000.5"
        let doc = try STARDocument(text: text)
        let block = try #require(doc.block(""))
        #expect(block.name == "")
        #expect(try block.strings("rlnMicrographName") == ["a.mrc", "b.mrc"])
        #expect(try block.doubles("rlnDefocusU") == [10000.0, 12000.5])
        #expect(doc.serialized() == text)
    }

    @Test func labelsWithAndWithoutColumnNumbers() throws {
        let text = "data_p\nloop_\n_rlnA #1\n_rlnB\n_rlnC #3\n1 2 3\n"
        let block = try #require(try STARDocument(text: text).block("p"))
        #expect(block.labels == ["rlnA", "rlnB", "rlnC"])
        #expect(try block.ints("rlnC") == [3])
    }

    @Test func commentsBetweenRows() throws {
        let text = "# header comment\ndata_p\n# before loop\nloop_\n_rlnA #1\n_rlnB #2\n# between\n1 2\n# another\n3 4 # trailing\n"
        let block = try #require(try STARDocument(text: text).block("p"))
        #expect(try block.ints("rlnA") == [1, 3])
        #expect(try block.ints("rlnB") == [2, 4])
    }

    @Test func emptyLoopHasNoRows() throws {
        let text = "data_a\nloop_\n_rlnA #1\n_rlnB #2\n\ndata_b\nloop_\n_rlnA #1\n5\n"
        let doc = try STARDocument(text: text)
        #expect(doc.block("a")?.rowCount == 0)
        #expect(doc.block("b")?.rowCount == 1)
    }

    @Test func mmCIFWithMultiLineRowsTextFieldsAndSeveralTablesPerBlock() throws {
        let text = """
        data_1ABC
        #
        _entry.id   1ABC
        _struct.title
        ;A protein
        with a long title
        ;
        #
        loop_
        _atom_site.group_PDB
        _atom_site.id
        _atom_site.label_atom_id
        _atom_site.Cartn_x
        _atom_site.Cartn_y
        ATOM 1 N 11.104 6.134
        ATOM 2 "O5'" -1.5e1
        2.000
        HETATM 3 'C A' 0 0
        #
        loop_
        _struct_conf.id
        _struct_conf.beg
        H1 1 H2 2
        """
        let doc = try STARDocument(text: text)
        #expect(doc.blocks.count == 3)
        #expect(doc.blocks.allSatisfy { $0.name == "1ABC" })
        #expect(doc.blocks.map(\.sharesDataBlock) == [false, true, true])
        #expect(doc.blocks[0].value("struct.title") == "A protein\nwith a long title")
        let atoms = try #require(doc.block(withLabel: "atom_site.Cartn_x"))
        #expect(atoms.rowCount == 3)
        #expect(try atoms.strings("atom_site.label_atom_id") == ["N", "O5'", "C A"])
        #expect(try atoms.doubles("atom_site.Cartn_x") == [11.104, -15.0, 0])
        #expect(try doc.block(withLabel: "struct_conf.id")?.strings("struct_conf.id") == ["H1", "H2"])
        #expect(doc.serialized() == text)
    }

    @Test func readsPDBmmCIFAtomSiteLoop() throws {
        let gz = try fixture("1pfe.cif.gz")
        let dir = TemporaryDirectory()
        let cif = dir.file("1pfe.cif")
        let r = try runProcess("/bin/sh", ["-c", "gunzip -c '\(gz)' > '\(cif)'"])
        #expect(r.status == 0)
        let doc = try STARDocument(path: cif)
        let atoms = try #require(doc.block(withLabel: "atom_site.Cartn_x"))
        let x = try atoms.doubles("atom_site.Cartn_x")
        #expect(x.count == atoms.rowCount)
        #expect(atoms.rowCount > 100)
        #expect(try atoms.strings("atom_site.group_PDB").allSatisfy { $0 == "ATOM" || $0 == "HETATM" })
        // Unchanged, the whole file is written back byte for byte.
        let out = dir.file("copy.cif")
        try doc.write(to: out, policy: OutputPolicy())
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: cif)))
    }

    @Test func numbersParseExactly() throws {
        let samples = ["1.4e-05", "-2.00000", "0.1", "300.000000", "2.7", "1e22", "1.7976931348623157e308",
                       "4.9e-324", "123456789012345678901234", "0.30000000000000004", "-0", "+5", ".5", "5.",
                       "1E-3", "2.5e+02", "12345.678901234567"]
        for s in samples {
            #expect(parseSTARDouble(s) == Double(s.hasPrefix("+") ? String(s.dropFirst()) : s) ?? strtod(s, nil), "\(s)")
        }
        #expect(parseSTARDouble("abc") == nil)
        #expect(parseSTARDouble("1.2.3") == nil)
        #expect(parseSTARDouble("") == nil)
        #expect(parseSTARDouble("1e") == nil)
        #expect(parseSTARInt("140") == 140)
        #expect(parseSTARInt("140.000000") == 140)
        #expect(parseSTARInt("-3") == -3)
        #expect(parseSTARInt("1.5") == nil)
        #expect(parseSTARInt("x") == nil)
        // Random decimal strings agree with the C library's correctly rounded strtod.
        for seed: UInt64 in [1, 2] {
            var rng = SplitMix64(seed: seed)
            for _ in 0..<10000 {
                let v = Double.random(in: -1e6...1e6, using: &rng)
                for s in [String(format: "%.6f", v), String(format: "%12.6e", v).trimmingCharacters(in: .whitespaces), "\(v)"] {
                    #expect(parseSTARDouble(s) == strtod(s, nil), "\(s) (SplitMix64 seed \(seed))")
                }
            }
        }
    }
}

/// The word-at-a-time number readers used on large tables must agree with the C library on every
/// spelling RELION and other programs write, and refuse what is not a number.
@Suite struct InPlaceNumberTests {
    /// Parses `text` followed by `terminator` and padding, as the column readers see a cell.
    private func inPlace<T: STARScalar>(_ text: String, _ terminator: String = " ", as: T.Type) -> T? {
        let bytes = Array((text + terminator + String(repeating: "x", count: 40)).utf8)
        return bytes.withUnsafeBufferPointer { b in
            let p = b.baseAddress!
            return T.parseInPlace(p, p + b.count) ?? T.parse(p, text.utf8.count)
        }
    }

    @Test func doublesAgreeWithStrtod() {
        let seed: UInt64 = 20261201
        var rng = SplitMix64(seed: seed)
        var samples = ["0.000000", "-0.000000", "12345678.12345678", "123456789.5", "1.123456789", "99999999",
                       "1.190786e+05", "1.4e-05", "-2.00000", "5.", ".5", "-.5", "1E-3", "2.5e+02", "7e22", "7e23",
                       "1e-22", "1e-23", "00000001.5", "0.00000001", "1.0e000", "3.0E+2"]
        for _ in 0..<20000 {
            let v = Double.random(in: -1e7...1e7, using: &rng) * pow(10, Double(Int.random(in: -12...3, using: &rng)))
            samples += [String(format: "%.6f", v), String(format: "%12.6e", v).trimmingCharacters(in: .whitespaces),
                        String(format: "%.\(Int.random(in: 0...9, using: &rng))f", v), "\(v)"]
        }
        for s in samples {
            for t in [" ", "\n", "\t", "\r\n"] {
                #expect(inPlace(s, t, as: Double.self) == strtod(s, nil), "\(s) (SplitMix64 seed \(seed))")
            }
        }
    }

    @Test func intsAndRefusals() {
        for v in [0, 7, -3, 483, 12_345_678, -99_999_999, 123_456_789, 1 << 40] {
            #expect(inPlace(String(v), as: Int.self) == v)
        }
        #expect(inPlace("140.000000", as: Int.self) == 140)
        for bad in ["1.2.3", "12a", "-", ".", "1e", "1e+", "--1", "1-", "0x10", "1,5", "e5", "+-1"] {
            #expect(inPlace(bad, as: Double.self) == nil, "\(bad)")
            #expect(inPlace(bad, as: Int.self) == nil, "\(bad)")
        }
        #expect(inPlace("1.5", as: Int.self) == nil)
    }
}

/// The word-at-a-time line reader must split rows exactly like the plain rule "values are the runs
/// of bytes above 0x20", whatever the mix of blanks (spaces, tabs, CR), value lengths (1 to 40
/// bytes, across 8-byte words), UTF-8 bytes and line lengths, in large tables (parallel path).
@Suite struct PlainLineTokenizerTests {
    @Test func rowsSplitExactlyLikeTheWhitespaceRule() throws {
        let seed: UInt64 = 7
        var rng = SplitMix64(seed: seed)
        let columns = 7
        let alphabet = Array("0123456789.-+eE@/_abcXYZé€".unicodeScalars).map(String.init)
        let blanks = [" ", "  ", "\t", " \t ", "        ", "\r"]
        var expected: [[String]] = []
        var text = "data_t\n\nloop_\n" + (1...columns).map { "_rlnC\($0) #\($0)\n" }.joined()
        for _ in 0..<12_000 {   // about 1.7 MB: past the first, sequential megabyte
            var row: [String] = []
            var line = Bool.random(using: &rng) ? "" : blanks.randomElement(using: &rng)!
            for c in 0..<columns {
                var v = ""
                for _ in 0..<Int.random(in: 1...40, using: &rng) { v += alphabet.randomElement(using: &rng)! }
                if v.hasPrefix("_") || v.hasPrefix("d") || v.hasPrefix("l") || v.hasPrefix("s") || v.hasPrefix("g") { v = "x" + v }
                row.append(v)
                line += v + (c == columns - 1 ? (Bool.random(using: &rng) ? "" : blanks.randomElement(using: &rng)!) : blanks.randomElement(using: &rng)!)
            }
            expected.append(row)
            text += line + (Bool.random(using: &rng) ? "\n" : "\r\n")
        }
        let doc = try STARDocument(text: text, name: "plain.star")
        let b = try #require(doc.block("t"))
        #expect(b.rowCount == expected.count)
        var wrong = 0
        for c in 0..<columns {
            let got = try b.strings("rlnC\(c + 1)")
            for r in 0..<expected.count where got[r] != expected[r][c] {
                wrong += 1
                if wrong < 4 { Issue.record("row \(r) column \(c + 1): \(got[r]) vs \(expected[r][c]) (SplitMix64 seed \(seed))") }
            }
        }
        #expect(wrong == 0, "SplitMix64 seed \(seed)")
        #expect(doc.serialized() == text, "SplitMix64 seed \(seed)")
        // The one-pass typed reader splits the same way.
        let typed = try #require(try STARTypedFile(text: text, name: "plain.star").table("t"))
        #expect(typed.rowCount == expected.count, "SplitMix64 seed \(seed)")
        for c in 0..<columns {
            #expect(typed.columns.texts["rlnC\(c + 1)"].map(Array.init) == expected.map { $0[c] }, "column \(c + 1) (SplitMix64 seed \(seed))")
        }
    }
}
