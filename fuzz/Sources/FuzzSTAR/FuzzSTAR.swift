// libFuzzer target: the STAR/mmCIF reader, the typed RELION model and the writer on arbitrary bytes.
// Every input must give either a document or a thrown STARError; a document must serialise and
// read back to the same tables.

import Foundation
import STARFile
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
