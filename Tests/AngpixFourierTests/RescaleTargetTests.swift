// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of RELION's rescaled-box rounding (RescaleTarget.relionBox), shared by map and particle rescaling.

import Testing
import AngpixFourier

@Test func relionBoxRoundsThenDropsOneIfOdd() throws {
    // 64 px at 1 Å to 1.3 Å: 49.23 → 49 → 48 (what relion_image_handler 3.1.3 writes).
    #expect(RescaleTarget.relionBox(oldBox: 64, oldPixelSize: 1.0, requested: 1.3) == 48)
    #expect(RescaleTarget.relionBox(oldBox: 256, oldPixelSize: 1.0, requested: 1.28) == 200)
    #expect(RescaleTarget.relionBox(oldBox: 100, oldPixelSize: 1.0, requested: 0.5) == 200)
    // ROUND is half away from zero: 2.5 → 3 → 2.
    #expect(RescaleTarget.relionBox(oldBox: 5, oldPixelSize: 1.0, requested: 2.0) == 2)
    let t = try RescaleTarget(oldBox: 64, oldPixelSize: 1.0, requested: 1.3)
    #expect(t.newBox == 48 && abs(t.pixelSize - 64.0 / 48.0) < 1e-12)
}

@Test func relionBoxRefusesBoxesThatDoNotFit() {
    #expect(RescaleTarget.relionBox(oldBox: 64, oldPixelSize: 1.0, requested: 1e-6) == nil)
    #expect(RescaleTarget.relionBox(oldBox: 64, oldPixelSize: 1.0, requested: 0) == nil)
    #expect(RescaleTarget.relionBox(oldBox: 64, oldPixelSize: .nan, requested: 1) == nil)
    #expect(throws: RescaleError.nonPositiveTargetPixelSize(1e-6)) {
        try RescaleTarget(oldBox: 64, oldPixelSize: 1.0, requested: 1e-6)
    }
    #expect(throws: RescaleError.rescaledBoxTooSmall(oldBox: 4, newBox: 0)) {
        try RescaleTarget(oldBox: 4, oldPixelSize: 1.0, requested: 100)
    }
}
