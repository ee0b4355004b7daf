// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// libFuzzer target: the MRC header interpreter, the validator and the map/stack readers on
// arbitrary bytes. Every input must give a map or a thrown MRCError, never a trap.

import Foundation
import AngpixMRC
import FuzzSupport

@main
enum FuzzMRC {
    static func main() { runFuzzer { data, size in fuzzOne(data, size) } }
}

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let path = fuzzInputFile(data, size, suffix: "mrc")
    _ = try? MRCFile.readHeader(path: path)
    _ = try? MRCValidator.validate(path: path)
    if let map = try? MRCFile.readMap(path: path) {
        precondition(map.data.count == map.nx * map.ny * map.nz, "map data size disagrees with its shape")
    }
    if let stack = try? MRCStackReader(path: path), stack.count > 0 {
        _ = try? stack.image(0)
        _ = try? stack.image(stack.count - 1)
        _ = try? stack.image(stack.count)
    }
    return 0
}
