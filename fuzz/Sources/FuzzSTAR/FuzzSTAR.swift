// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// libFuzzer target: the STAR/mmCIF reader, the one-pass typed reader, the typed RELION model and
// the writer on arbitrary bytes.
// Every input must give either a document or a thrown STARError; a document must serialise and
// read back to the same tables.

import Foundation
import AngpixSTAR
import FuzzSupport

@main
enum FuzzSTAR {
    static func main() { runFuzzer { data, size in fuzzOne(data, size) } }
}

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let path = fuzzInputFile(data, size, suffix: "star")
    guard let document = try? STARDocument(path: path) else { return 0 }
    // Typed access must never trap, whatever the values.
    for block in document.blocks {
        for label in block.labels.prefix(8) {
            _ = try? block.doubles(label)
            _ = try? block.ints(label)
            _ = try? block.strings(label)
        }
    }
    if let optics = document.block("optics") { _ = try? OpticsTable(block: optics, file: path) }
    // The one-pass typed reader (tiny pieces, so that loops of a few lines already take it) reads
    // the same tables and rows, and the same text where a column stays text.
    guard let typed = try? STARTypedFile(path: path, pieceBytes: 1 + size % 61) else {
        fatalError("the document reads but STARTypedFile does not")
    }
    guard typed.tables.map(\.labels) == document.blocks.map(\.labels),
          typed.tables.map(\.rowCount) == document.blocks.map(\.rowCount) else { fatalError("typed tables differ") }
    for (t, b) in zip(typed.tables, document.blocks) {
        for (label, texts) in t.columns.texts where Array(texts.prefix(50)) != (try? b.strings(label))?.prefix(50).map({ $0 }) {
            fatalError("typed text of \(label) differs")
        }
    }
    // Lossless: what we write reads back with the same labels, rows and values.
    let text = document.serialized()
    guard let again = try? STARDocument(text: text, name: "round-trip") else {
        fatalError("serialised document does not read back:\n\(text)")
    }
    guard again.blocks.count == document.blocks.count else { fatalError("block count changed on round trip") }
    for (a, b) in zip(document.blocks, again.blocks) {
        guard a.labels == b.labels, a.rowCount == b.rowCount else { fatalError("table shape changed on round trip") }
        for row in 0..<min(a.rowCount, 50) {
            for label in a.labels where a.string(row: row, label) != b.string(row: row, label) {
                fatalError("value of \(label) in row \(row) changed on round trip")
            }
        }
    }
    return 0
}
