// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The reference text's "Examples": effective pixel sizes through relion_refine's rescaling and
// CtfRefine's magnification matrices, and the 0.98 → 0.96 trap.

import Foundation
import Testing
@testable import AngpixOptics

let traceGroups = [
    TraceGroupInput(number: 1, name: "dataset1", pixelSize: 1.00, magMatrix: .scale(0.99)),
    TraceGroupInput(number: 2, name: "dataset2", pixelSize: 0.95, magMatrix: .scale(0.99 / (0.90 / 0.95 * 1.00))),
]

@Test func testSecondGroupIsTruly0Point947AfterStretchingTo1Point00() {
    let t = OpticsTrace.truePixelSizeAfterRescaling(nominalPixelSize: 0.95, truePixelSize: 0.90, referencePixelSize: 1.00)
    #expect(abs(t - 0.947) < 0.0005)
    #expect(OpticsTrace.truePixelSizeAfterRescaling(nominalPixelSize: 1.00, truePixelSize: 1.00, referencePixelSize: 1.00) == 1.00)
}

@Test func testReconstructionAt0Point99GivesMagMatScales0Point9900And1Point045() {
    let m1 = OpticsTrace.predictedMagnification(nominalPixelSize: 1.00, truePixelSize: 1.00, referencePixelSize: 1.00, mapTruePixelSize: 0.99)
    let m2 = OpticsTrace.predictedMagnification(nominalPixelSize: 0.95, truePixelSize: 0.90, referencePixelSize: 1.00, mapTruePixelSize: 0.99)
    #expect(abs(m1 - 0.9900) < 1e-12)
    #expect(abs(m2 - 1.045) < 0.0005)
}

@Test func testTrustingGroup1At1Point00GivesMap0Point990AndGroup2At0Point900() throws {
    let r = try OpticsTrace.trace(groups: traceGroups, referencePixelSize: 1.00, anchor: .group(1, 1.00))
    #expect(abs(r.mapTruePixelSize! - 0.990) < 1e-9)
    #expect(abs(r.groups[0].truePixelSize! - 1.000) < 1e-9)
    #expect(abs(r.groups[1].truePixelSize! - 0.900) < 1e-9)
    // Not 0.95 / 1.045 = 0.9091.
    #expect(abs(r.groups[1].naivePixelSize - 0.9091) < 0.0001)
    #expect(abs(r.groups[1].truePixelSizeAfterRescaling! - 0.947) < 0.0005)
    #expect(abs(r.groups[1].refineScale - 0.95) < 1e-12)
    #expect(abs(r.groups[1].magnification - 1.045) < 0.0005)
    #expect(r.warnings.isEmpty)
}

@Test func testTrustingTheMapGivesEveryGroup() throws {
    let r = try OpticsTrace.trace(groups: traceGroups, referencePixelSize: 1.00, anchor: .map(0.99))
    #expect(abs(r.groups[0].truePixelSize! - 1.00) < 1e-9)
    #expect(abs(r.groups[1].truePixelSize! - 0.90) < 1e-9)
    let none = try OpticsTrace.trace(groups: traceGroups, referencePixelSize: 1.00, anchor: .none)
    #expect(none.mapTruePixelSize == nil)
    #expect(none.groups.allSatisfy { $0.truePixelSize == nil })
}

@Test func testReferenceAt0Point98FromPostProcessWarnsOfThe0Point96Trap() throws {
    let one = [TraceGroupInput(number: 1, name: "g", pixelSize: 1.00)]
    let r = try OpticsTrace.trace(groups: one, referencePixelSize: 0.98, anchor: .none)
    #expect(r.warnings.count == 1)
    #expect(r.warnings[0].contains("0.9604"))
    let ok = try OpticsTrace.trace(groups: one, referencePixelSize: 1.00, anchor: .none)
    #expect(ok.warnings.isEmpty)
}

@Test func testTraceRejectsBadInput() {
    #expect(throws: OpticsError.self) {
        try OpticsTrace.trace(groups: [TraceGroupInput(number: 1, name: "g", pixelSize: 0)], referencePixelSize: 1, anchor: .none)
    }
    #expect(throws: OpticsError.self) {
        try OpticsTrace.trace(groups: [TraceGroupInput(number: 1, name: "g", pixelSize: 1, magMatrix: Matrix2x2(1, 1, 1, 1))],
                              referencePixelSize: 1, anchor: .none)
    }
    #expect(throws: OpticsError.self) { try OpticsTrace.trace(groups: traceGroups, referencePixelSize: 0, anchor: .none) }
    #expect(throws: OpticsError.self) { try OpticsTrace.trace(groups: traceGroups, referencePixelSize: 1, anchor: .group(3, 1.0)) }
    #expect(throws: OpticsError.self) { try OpticsTrace.trace(groups: traceGroups, referencePixelSize: 1, anchor: .map(-1)) }
}

/// CtfRefine at 0.54 Å/px with Cs 2.7 mm finds Cs_apparent = 2.7 × (0.54/0.51)⁴ = 3.394 mm: the
/// calibration of that group (true pixel size 0.51 Å/px), and its Z40.
func calibrationOfA6PercentPixelSizeError() throws -> (calibration: ZernikeCalibration, z40: Double) {
    let z40 = ZernikeCalibration.z40(csNominal: 2.7, csApparent: 2.7 * pow(0.54 / 0.51, 4), voltage: 300)
    var even = [Double](repeating: 0, count: 9)
    even[6] = z40
    let c = try ZernikeCalibration.calibrate(opticsGroup: 1, name: "g", nominalPixelSize: 0.54, voltage: 300,
                                             csNominal: 2.7, evenZernike: even, csTrue: 2.7)
    return (c, z40)
}

@Test func testZ40FromA6PercentPixelSizeErrorGivesBackTheTruePixelSize() throws {
    let c = try calibrationOfA6PercentPixelSizeError().calibration
    #expect(abs(c.csApparent! - 3.394) < 0.0005)
    #expect(abs(c.truePixelSize! - 0.51) < 1e-9)
    #expect(abs(c.relativeError! - 0.03 / 0.51) < 1e-9)
    #expect(c.problem == nil)
}

@Test func testApparentCsIsCsNominalPlus12Z40OverPiLambdaCubed() {
    let lambda = electronWavelength(kilovolts: 200)
    let cs = ZernikeCalibration.apparentCs(csNominal: 2.7, z40: 10, voltage: 200)
    #expect(abs(cs - (2.7 + 12 * 10 * 1e-7 / (Double.pi * pow(lambda, 3)))) < 1e-12)
    // The same Z40 means a larger Cs change at 300 kV (smaller λ).
    #expect(ZernikeCalibration.apparentCs(csNominal: 2.7, z40: 10, voltage: 300) > cs)
}

@Test func testGroupWithoutZernikeGetsAMessageAndNoNumber() throws {
    let none = try ZernikeCalibration.calibrate(opticsGroup: 2, name: "g", nominalPixelSize: 1, voltage: 300,
                                                csNominal: 2.7, evenZernike: nil, csTrue: 2.7)
    #expect(none.truePixelSize == nil)
    #expect(none.problem?.contains("rlnEvenZernike") == true)
    let few = try ZernikeCalibration.calibrate(opticsGroup: 2, name: "g", nominalPixelSize: 1, voltage: 300,
                                               csNominal: 2.7, evenZernike: [0, 0, 0, 0, 0, 0], csTrue: 2.7)
    #expect(few.truePixelSize == nil)
    #expect(few.problem?.contains("6 coefficients") == true)
    #expect(throws: OpticsError.self) {
        try ZernikeCalibration.calibrate(opticsGroup: 1, name: "g", nominalPixelSize: 1, voltage: 300,
                                         csNominal: 2.7, evenZernike: [Double](repeating: 0, count: 9), csTrue: 0)
    }
    #expect(throws: OpticsError.self) {
        try ZernikeCalibration.calibrate(opticsGroup: 1, name: "g", nominalPixelSize: 1, voltage: 300,
                                         csNominal: 0, evenZernike: [Double](repeating: 0, count: 9), csTrue: 2.7)
    }
    #expect(throws: OpticsError.self) {
        try ZernikeCalibration.calibrate(opticsGroup: 1, name: "g", nominalPixelSize: -1, voltage: 300,
                                         csNominal: 2.7, evenZernike: [Double](repeating: 0, count: 9), csTrue: 2.7)
    }
}
