// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the description `map info` prints (MRCFileDescription): kind, voxel size, axis order,
// statistics and the text layout.

import Foundation
import Testing
import AngpixCore
import AngpixMRC
import AngpixTestSupport

@Test func mrcFileDescriptionOfAVolume() throws {
    let dir = TemporaryDirectory()
    let path = dir.file("m.mrc")
    try MRCFile.write(smallIntegerMap(), to: path, policy: OutputPolicy(), options: MRCWriteOptions(mode: .float32))
    let d = MRCFileDescription(try MRCValidator.validate(path: path))
    #expect(d.valid && d.problems.isEmpty)
    #expect(d.kind == "volume")
    #expect(d.mapSize == [5, 4, 3])
    #expect(abs((d.pixelSize ?? 0) - 1.25) < 1e-6)
    #expect(d.axisOrder == "1 2 3, standard (columns x, rows y, sections z)")
    #expect(d.statistics?.nonFiniteCount == 0)
    let lines = d.text.split(separator: "\n").map(String.init)
    #expect(lines[0] == "file:          \(path) (\(1024 + 60 * 4) bytes)")
    #expect(lines[1] == "dimensions:    5 × 4 × 3, volume, ISPG 1")
    #expect(lines.contains { $0.hasPrefix("voxel size:    1.25 × 1.25 × 1.25 Å") })
    #expect(lines.last == "problems:      none")
}
