// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// RELION 5's resizing of the reference in relion_refine (src/ml_model.cpp of the 5.0 branch): new
// box ROUND(box × p_ref / p_1) made even by dropping one, reached pixel size box × p_ref / new box,
// RELION's 0.001 Å tolerance; and the optics trace carrying the reached pixel size through.

import Foundation
import Testing
@testable import AngpixOptics

@Test func relion5ResizesA125ReferenceTo104NotExactly() throws {
    // 300 × 1.25 / 1.04 = 360.58 → 361 → 360 (even): 375 Å / 360 = 1.041667 Å/px, not 1.04.
    let r = try ReferenceResize(referenceBox: 300, referencePixelSize: 1.25, firstGroupPixelSize: 1.04, firstGroupBox: 256)
    #expect(r.resized && r.resampledBox == 360 && r.finalBox == 256)
    #expect(abs(r.reachedPixelSize - 375.0 / 360.0) < 1e-12)
    #expect(r.missesFirstGroup)
    #expect(abs(r.relativeDifference - (375.0 / 360.0 / 1.04 - 1)) < 1e-12)
    // Padding the reference to 416 first makes it exact: 416 × 1.25 / 1.04 = 500.
    let exact = try #require(r.exactBox)
    #expect(exact.box == 416 && exact.resampledBox == 500)
    let padded = try ReferenceResize(referenceBox: 416, referencePixelSize: 1.25, firstGroupPixelSize: 1.04, firstGroupBox: 256)
    #expect(padded.resampledBox == 500 && !padded.missesFirstGroup && abs(padded.reachedPixelSize - 1.04) < 1e-12)
}

@Test func relion5RoundsHalfAwayFromZeroAndDropsOneWhenOdd() throws {
    // 64 × 1.0 / 1.3 = 49.23 → 49 → 48; 10 × 1.3 / 1.0 = 13 → 12 (1.0833 Å/px).
    let a = try ReferenceResize(referenceBox: 64, referencePixelSize: 1.0, firstGroupPixelSize: 1.3, firstGroupBox: 48)
    #expect(a.resampledBox == 48 && abs(a.reachedPixelSize - 64.0 / 48.0) < 1e-12)
    let b = try ReferenceResize(referenceBox: 10, referencePixelSize: 1.3, firstGroupPixelSize: 1.0, firstGroupBox: 10)
    #expect(b.resampledBox == 12)
    // Within 0.001 Å and the same box: nothing is resized.
    let same = try ReferenceResize(referenceBox: 200, referencePixelSize: 1.0005, firstGroupPixelSize: 1.0, firstGroupBox: 200)
    #expect(!same.resized && same.reachedPixelSize == 1.0005 && !same.missesFirstGroup)
    // Only the box differs: resized by ROUND(box) = box, pixel size kept, windowed.
    let boxOnly = try ReferenceResize(referenceBox: 240, referencePixelSize: 1.0, firstGroupPixelSize: 1.0, firstGroupBox: 200)
    #expect(boxOnly.resized && boxOnly.resampledBox == 240 && boxOnly.reachedPixelSize == 1.0 && !boxOnly.missesFirstGroup)
    #expect(throws: OpticsError.self) { try ReferenceResize(referenceBox: 200, referencePixelSize: 0, firstGroupPixelSize: 1, firstGroupBox: 200) }
}

@Test func relionVersionsAreParsedAndReadFromTheSTARVersionLine() {
    #expect(RelionVersion(argument: "3.1") == .v3_1 && RelionVersion(argument: "4.0") == .v4 && RelionVersion(argument: "5") == .v5)
    #expect(RelionVersion(argument: "5.0.1") == .v5 && RelionVersion(argument: "3.0") == nil && RelionVersion(argument: "x") == nil)
    #expect(RelionVersion.writers(ofSTARVersion: 50001) == [.v5])
    #expect(RelionVersion.writers(ofSTARVersion: 30001) == [.v3_1, .v4])
    #expect(RelionVersion.names([.v5, .v3_1, .v4]) == "RELION 3.1, 4 and 5")
}

@Test func opticsTraceOfRelion5CarriesTheReachedPixelSizeThrough() throws {
    let groups = [TraceGroupInput(number: 1, name: "a", pixelSize: 1.04, imageSize: 256),
                  TraceGroupInput(number: 2, name: "b", pixelSize: 0.95, imageSize: 280)]
    let r5 = try OpticsTrace.trace(groups: groups, referencePixelSize: 1.25, anchor: .map(1.0), relion: .v5, referenceBox: 300)
    let reached = 375.0 / 360.0
    #expect(r5.relion == .v5 && r5.referenceHeaderPixelSize == 1.25)
    #expect(abs(r5.referencePixelSize - reached) < 1e-12)
    #expect(abs(r5.groups[0].refineScale - 1.04 / reached) < 1e-12)
    #expect(abs(r5.groups[1].refineScale - 0.95 / reached) < 1e-12)
    #expect(r5.warnings.contains { $0.contains("RELION 5 resizes the reference from box 300 at 1.25 Å/px to box 360") && $0.contains("not the first optics group's 1.04 Å/px") })
    #expect(!r5.warnings.contains { $0.contains("0.98 → 0.96") })
    #expect(r5.text.hasPrefix("Following relion_refine of RELION 5: the reference (box 300, 1.25 Å/px) is resized to box 360, 1.04167 Å/px, windowed to 256;"))
    // RELION 3.1 and 4 keep the reference and rescale the particles to 1.25 Å/px (the 0.98 → 0.96 warning).
    let r31 = try OpticsTrace.trace(groups: groups, referencePixelSize: 1.25, anchor: .none, relion: .v4)
    #expect(r31.referencePixelSize == 1.25 && r31.referenceResize == nil)
    #expect(r31.warnings.contains { $0.contains("0.98 → 0.96") })
}
