// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// STARBlock.columns(doubles:ints:strings:) reads many columns in one parallel pass; it must give
// exactly what the column-by-column readers give, and name the first bad value like them.

import Testing
import Foundation
import AngpixCore
import AngpixTestSupport
@testable import AngpixSTAR

@Suite struct ColumnsTests {
    /// A 20,000-row table (large enough for the parallel path) with varied number spellings.
    private func table(badRow: Int? = nil) throws -> STARBlock {
        var text = "data_particles\n\nloop_\n_rlnX #1\n_rlnN #2\n_rlnName #3\n_rlnY #4\n"
        for r in 0..<20_000 {
            let x = r == badRow ? "oops" : String(format: "%.6f", Double(r) * 0.37 - 1234.5)
            let y = ["1.4e-05", "-2.00000", "12345678901234567890.5", "3.0E+2", "0.1"][r % 5]
            text += "\(x) \(r % 7 - 3) \(String(format: "%06d", r))@Extract/job007/a.mrcs \(y)\n"
        }
        return try #require(try STARDocument(text: text, name: "c.star").block("particles"))
    }

    @Test func columnsEqualColumnByColumnReads() throws {
        let b = try table()
        let c = try b.columns(doubles: ["rlnX", "rlnY"], ints: ["rlnN"], strings: ["rlnName"])
        #expect(c.doubles["rlnX"] == (try b.doubles("rlnX")))
        #expect(c.doubles["rlnY"] == (try b.doubles("rlnY")))
        #expect(c.ints["rlnN"] == (try b.ints("rlnN")))
        #expect(c.strings["rlnName"] == (try b.strings("rlnName")))
        #expect(c.doubles["rlnY"]?[0] == 1.4e-05)
        #expect(c.strings["rlnName"]?[19_999] == "019999@Extract/job007/a.mrcs")
    }

    @Test func columnsNamesTheFirstBadValue() throws {
        let b = try table(badRow: 15_000)
        let e = #expect(throws: STARError.self) {
            _ = try b.columns(doubles: ["rlnX", "rlnY"], ints: ["rlnN"], strings: ["rlnName"])
        }
        #expect(e?.description.hasPrefix("c.star:\(15_000 + 8):") == true, "\(String(describing: e))")
        #expect(e?.description.contains("oops") == true, "\(String(describing: e))")
    }
}

/// A memory-mapped file large enough that the reader gives parsed pages back to the kernel as it
/// goes (every 4 MB while tokenizing, every 8192 rows while reading columns): every value must
/// still read back exactly, and an unchanged write must reproduce the file byte for byte.
@Suite struct MappedPagesReleasedTests {
    @Test func largeMappedFileReadsBackExactlyAfterPagesAreReleased() throws {
        let dir = TemporaryDirectory()
        var text = "\n# version 30001\n\ndata_particles\n\nloop_ \n_rlnCoordinateX #1 \n_rlnImageName #2 \n_rlnClassNumber #3 \n_rlnDefocusU #4 \n"
        let rows = 120_000
        text.reserveCapacity(rows * 110)
        for r in 0..<rows {
            text += String(format: " %12.6f %06d@Extract/job007/Movies/mic_%06d.mrcs %12d ",
                           Double(r) * 0.731 - 999.5, r + 1, r / 300, r % 50 - 7)
            text += (r % 3 == 0 ? String(format: "%12.6e", Double(r) * 13.7) : String(format: "%.6f", 15000 + Double(r) * 0.25)) + "     \n"
        }
        let path = dir.write("big.star", text)
        #expect(text.utf8.count > 10 << 20)
        let doc = try STARDocument(path: path)
        let b = try #require(doc.block("particles"))
        let c = try b.columns(doubles: ["rlnCoordinateX", "rlnDefocusU"], ints: ["rlnClassNumber"], texts: ["rlnImageName"])
        let x = try #require(c.doubles["rlnCoordinateX"]), d = try #require(c.doubles["rlnDefocusU"])
        let n = try #require(c.ints["rlnClassNumber"]), names = try #require(c.texts["rlnImageName"])
        #expect(x.count == rows && names.count == rows)
        var wrong = 0
        for r in stride(from: 0, to: rows, by: 1) {
            let dText = r % 3 == 0 ? String(format: "%12.6e", Double(r) * 13.7) : String(format: "%.6f", 15000 + Double(r) * 0.25)
            if x[r] != strtod(String(format: "%.6f", Double(r) * 0.731 - 999.5), nil) { wrong += 1 }
            if d[r] != strtod(dText.trimmingCharacters(in: .whitespaces), nil) { wrong += 1 }
            if n[r] != r % 50 - 7 { wrong += 1 }
            if r % 97 == 0 && names[r] != String(format: "%06d@Extract/job007/Movies/mic_%06d.mrcs", r + 1, r / 300) { wrong += 1 }
        }
        #expect(wrong == 0)
        #expect(Array(names) == (try b.strings("rlnImageName")))
        names.withUTF8(row: 5) { #expect(String(decoding: $0, as: UTF8.self) == "000006@Extract/job007/Movies/mic_000000.mrcs") }
        let out = dir.file("copy.star")
        try doc.write(to: out, policy: OutputPolicy())
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(text.utf8))
    }

    @Test func textColumnOfASubsetFallsBackToValues() throws {
        let doc = try STARDocument(text: "data_p\nloop_\n_rlnImageName\n_rlnN\na@s 1\nb@s 2\nc@s 3\n", name: "t.star")
        let b = try #require(doc.block("p")).selectingRows([2, 0])
        #expect(Array(try b.texts("rlnImageName")) == ["c@s", "a@s"])
    }
}
