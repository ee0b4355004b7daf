// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// libFuzzer target: the model readers (PDB, PDBx/mmCIF, gzip-compressed either way) on arbitrary
// bytes. Every input must give a model with finite coordinates or a thrown ModelError, never a trap.

import Foundation
import AngpixModels
import FuzzSupport

@main
enum FuzzModel {
    static func main() { runFuzzer { data, size in fuzzOne(data, size) } }
}

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let path = fuzzInputFile(data, size, suffix: "model")
    if let (model, _) = try? ModelReader.read(path: path) {
        for atom in model.atoms {
            precondition(atom.x.isFinite && atom.y.isFinite && atom.z.isFinite, "an atom with a non-finite coordinate was accepted")
        }
    }
    return 0
}
