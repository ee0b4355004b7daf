// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Hardening of the STAR reader and writer: generated tables with awkward values round-trip
// exactly, and every prefix or corruption of a valid file gives a clear error or a result,
// never a crash or a hang.

import Testing
import Foundation
@testable import AngpixSTAR
import AngpixCore
import AngpixTestSupport

@Suite struct STARRobustnessTests {
    /// Values a STAR writer must get right: numbers of every form, empty strings, spaces,
    /// quotes, reserved words and non-ASCII text.
    static func awkwardValue(_ rng: inout SplitMix64) -> String {
        let numbers = ["0", "-0", "1.4e-05", "-2.00000", "1e308", "-1.7976931348623157e+308",
                       "4.9e-324", "2.2250738585072014e-308", "nan", "inf", "-inf", "NaN", "+3.5",
                       "000123", "12345678901234567890", "0x1p3", ".5", "5.", "1E+2"]
        let words = ["", " ", "with space", "it's", "say \"hi\"", "data_x", "loop_", "_label", "#hash",
                     "$ref", "stop_", "save_", "global_", "ångström Å/px", "μm", "日本語", "emoji😀",
                     "tab\there", "[0.1,0.2]", "a;b", "'", "\"", "''", "\"\""]
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: return numbers.randomElement(using: &rng)!
        case 1: return words.randomElement(using: &rng)!
        case 2: return String(Double(bitPattern: rng.next()))
        default:
            let n = Int.random(in: 1...12, using: &rng)
            let alphabet = Array("abcXYZ019_.-@/+é ")
            return String((0..<n).map { _ in alphabet.randomElement(using: &rng)! })
        }
    }

    @Test func generatedTablesRoundTripExactly() throws {
        for seed in 1...40 as ClosedRange<UInt64> {
            var rng = SplitMix64(seed: seed)
            let columns = Int.random(in: 1...8, using: &rng)
            let labels = (0..<columns).map { "rlnLabel\($0)_\(Int.random(in: 0...999, using: &rng))" }
            let rows = (0..<Int.random(in: 1...30, using: &rng)).map { _ in
                (0..<columns).map { _ in Self.awkwardValue(&rng) }
            }
            let pairs = [("rlnFinalResolution", Self.awkwardValue(&rng)), ("rlnMaskName", Self.awkwardValue(&rng))]
            let document = STARDocument(blocks: [
                STARBlock(name: "general", pairs: pairs),
                STARBlock(name: "particles", labels: labels, rows: rows),
            ])
            let text = document.serialized()
            let again = try STARDocument(text: text, name: "seed\(seed)")
            #expect(again.blocks.count == 2)
            let table = try #require(again.block("particles"))
            #expect(table.labels == labels, "seed \(seed)")
            #expect(table.rowCount == rows.count, "seed \(seed)")
            for (r, row) in rows.enumerated() {
                for (c, value) in row.enumerated() {
                    #expect(table.string(row: r, labels[c]) == value, "SplitMix64 seed \(seed) row \(r) column \(labels[c])\n\(text)")
                }
            }
            let general = try #require(again.block("general"))
            for (label, value) in pairs { #expect(general.value(label) == value, "seed \(seed) \(label)") }
            // Written twice, the text is stable.
            #expect(again.serialized() == text, "seed \(seed)")
        }
    }

    @Test func numbersParseExactlyAsTheirText() throws {
        var rng = SplitMix64(seed: 7)
        var values: [Double] = [1.4e-05, -2.0, 4.9e-324, 2.2250738585072014e-308, .greatestFiniteMagnitude, 0.1, 1e23]
        for _ in 0..<2000 {
            let d = Double(bitPattern: rng.next())
            if d.isFinite { values.append(d) }
        }
        let rows = values.map { [$0.description] }
        let document = STARDocument(blocks: [STARBlock(name: "", labels: ["rlnDefocusU"], rows: rows)])
        let parsed = try STARDocument(text: document.serialized()).blocks[0].doubles("rlnDefocusU")
        #expect(parsed == values)
    }

    static let sample = """

    # version 30001

    data_optics

    loop_
    _rlnOpticsGroup #1
    _rlnOpticsGroupName #2
    _rlnImagePixelSize #3
    _rlnImageSize #4
    _rlnVoltage #5
    _rlnSphericalAberration #6
    _rlnAmplitudeContrast #7
    1 'dataset one' 1.000000 140 300 2.7 0.1
    2 dataset2 1.100000 128 300 2.7 0.1

    data_particles

    loop_
    _rlnImageName #1
    _rlnMicrographName #2
    _rlnOpticsGroup #3
    _rlnDefocusU #4
    000001@Extract/a.mrcs "mics/a b.mrc" 1 1.4e-05
    000002@Extract/a.mrcs mics/b.mrc 2 -2.00000

    data_general

    _rlnFinalResolution 3.2
    _rlnMaskName ""
    """

    /// Runs `body`; a throw must be a STARError whose one-line message starts with `name: ` or
    /// `name:<line>: `. `context` (the case, the seed) goes into every failure message.
    static func expectSTARErrorOrResult(naming name: String, _ context: String,
                                        sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        do {
            try body()
        } catch let e as STARError {
            #expect(e.description.hasPrefix(name + ":"), "\(context): \(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(context): \(type(of: error)) instead of STARError: \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Reads `bytes` as a file (both readers) and as in-memory text; each gives a result or a
    /// STARError naming the file, never a crash.
    static func readBothWays(_ bytes: [UInt8], dir: TemporaryDirectory, context: String) {
        let path = dir.file("input.star")
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        expectSTARErrorOrResult(naming: path, "\(context), STARDocument(path:)") {
            let document = try STARDocument(path: path)
            for block in document.blocks {
                for label in block.labels {
                    expectSTARErrorOrResult(naming: path, "\(context), doubles(\(label))") { _ = try block.doubles(label) }
                    expectSTARErrorOrResult(naming: path, "\(context), ints(\(label))") { _ = try block.ints(label) }
                }
            }
            if let optics = document.block("optics") {
                expectSTARErrorOrResult(naming: path, "\(context), OpticsTable") { _ = try OpticsTable(block: optics, file: path) }
            }
            _ = document.serialized()
        }
        expectSTARErrorOrResult(naming: path, "\(context), STARTypedFile(path:)") { _ = try STARTypedFile(path: path) }
        expectSTARErrorOrResult(naming: "text.star", "\(context), STARDocument(text:)") {
            _ = try STARDocument(text: String(decoding: bytes, as: UTF8.self), name: "text.star")
        }
    }

    @Test func everyPrefixOfAValidFileGivesAnErrorOrATable() {
        let dir = TemporaryDirectory()
        let bytes = Array(Self.sample.utf8)
        for length in 0...bytes.count {
            Self.readBothWays(Array(bytes[0..<length]), dir: dir, context: "first \(length) of \(bytes.count) bytes")
        }
    }

    @Test(arguments: [2026, 1, 2] as [UInt64])
    func randomlyCorruptedFilesGiveAnErrorOrATable(seed: UInt64) {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: seed)
        let bytes = Array(Self.sample.utf8)
        let specials: [UInt8] = [0, 0x0A, 0x0D, 0x20, 0x22, 0x27, 0x23, 0x5F, 0xFF, 0xC3]
        for iteration in 0..<500 {
            var corrupted = bytes
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let i = Int.random(in: 0..<corrupted.count, using: &rng)
                corrupted[i] = Bool.random(using: &rng) ? UInt8.random(in: 0...255, using: &rng)
                                                        : specials.randomElement(using: &rng)!
            }
            Self.readBothWays(corrupted, dir: dir, context: "SplitMix64 seed \(seed), corruption \(iteration)")
        }
    }

    @Test func binaryFileIsAClearError() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("binary.star")
        let seed: UInt64 = 3
        var rng = SplitMix64(seed: seed)
        FileManager.default.createFile(atPath: path, contents: Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        let e = #expect(throws: STARError.self, "SplitMix64 seed \(seed)") { _ = try STARDocument(path: path) }
        #expect(e?.description.hasPrefix(path + ": ") == true, "SplitMix64 seed \(seed): \(String(describing: e))")
    }
}
