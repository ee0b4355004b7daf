// STARBlock.columns(doubles:ints:strings:) reads many columns in one parallel pass; it must give
// exactly what the column-by-column readers give, and name the first bad value like them.

import Testing
@testable import STARFile

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
        do {
            _ = try b.columns(doubles: ["rlnX", "rlnY"], ints: ["rlnN"], strings: ["rlnName"])
            Issue.record("no error")
        } catch {
            #expect("\(error)".hasPrefix("c.star:\(15_000 + 8):"))
            #expect("\(error)".contains("oops"))
        }
    }
}
