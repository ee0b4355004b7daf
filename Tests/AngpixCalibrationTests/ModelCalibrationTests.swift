// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Accuracy of `calibrate model` on maps simulated from the shared PDB entries at a known pixel
// size whose headers are 2-6 % off: within 0.2 % at 3 Å and 0.5 % at 4.5 Å.

import Foundation
import Testing
import AngpixTestSupport
@testable import AngpixCalibration
import AngpixModels

private func calibrate(_ file: String, truePixel: Double, headerPixel: Double, size: Int, resolution: Double,
                       blurB: Double = 40, noise: Double = 2, seed: UInt64 = 1) throws -> (CalibrationResult, Double) {
    let model = try ModelReader.read(path: fixture(file)).model
    let c = try syntheticCase(model: model, truePixel: truePixel, headerPixel: headerPixel, size: size, blurB: blurB,
                              resolution: resolution, noise: noise, seed: seed)
    let result = try ModelCalibration.run(map: c.map, atoms: c.atoms,
                                          options: CalibrationOptions(resolution: resolution, skipUnknownElements: true))
    let error = (result.pixelSize - truePixel) / truePixel
    print("\(file) \(resolution) Å, header \(headerPixel), true \(truePixel): found \(String(format: "%.5f", result.pixelSize)) ± \(String(format: "%.5f", result.uncertainty)) Å "
          + "(error \(String(format: "%+.3f", error * 100)) %), CC \(String(format: "%.3f", result.score)), B \(String(format: "%.0f", result.overallBFactor ?? -1)), evaluations \(result.evaluations)")
    return (result, error)
}

@Test func testRecovers1ORCPixelSizeWithin0Point2PercentAt3Angstrom() throws {
    let (result, error) = try calibrate("1orc.pdb", truePixel: 1.0, headerPixel: 1.04, size: 64, resolution: 3)
    #expect(abs(error) < 0.002)
    #expect(result.uncertainty > 0 && result.uncertainty < 0.01)
    #expect(result.warnings.contains(ModelCalibration.biasWarning))
    // The misplacement of the model (0.4, -0.3, 0.2 Å) is refined away.
    #expect(abs(result.offset[0] + 0.4) < 0.15 && abs(result.offset[1] - 0.3) < 0.15 && abs(result.offset[2] + 0.2) < 0.15)
    // The curve rises to the optimum from both ends of the range.
    #expect(result.curve.first!.score < result.score && result.curve.last!.score < result.score)
}

@Test func testRecovers1ORCPixelSizeWithin0Point5PercentAt4Point5AngstromWithSmallerHeader() throws {
    let (_, error) = try calibrate("1orc.pdb", truePixel: 1.3, headerPixel: 1.3 * 0.95, size: 56, resolution: 4.5, blurB: 80)
    #expect(abs(error) < 0.005)
}

@Test func testUncertaintyCoversTheErrorOverNoiseRealisations() throws {
    // Three noise realisations at a 2 % error: each error within 4 σ + 0.05 % of the truth.
    for seed in [11, 12, 13] as [UInt64] {
        let (result, error) = try calibrate("1orc.pdb", truePixel: 1.1, headerPixel: 1.1 * 1.02, size: 64, resolution: 3.5,
                                            noise: 4, seed: seed)
        #expect(abs(error) * 1.1 < 4 * result.uncertainty + 0.0005 * 1.1)
    }
}

@Test func testModelOutsideTheMapIsAClearError() throws {
    let model = try ModelReader.read(path: fixture("1orc.pdb")).model
    let map = DensityGrid(nx: 32, ny: 32, nz: 32, pixelSize: 1, origin: SIMD3(500, 500, 500),
                          data: [Float](repeating: 0, count: 32 * 32 * 32))
    #expect(throws: CalibrationError.modelOutsideMap(inside: 0, total: 553)) {
        _ = try ModelCalibration.run(map: map, atoms: model.atoms)
    }
}

@Test func testInvalidRangeIsRejected() throws {
    let map = DensityGrid(nx: 8, ny: 8, nz: 8, pixelSize: 1, data: [Float](repeating: 0, count: 512))
    #expect(throws: CalibrationError.self) {
        _ = try ModelCalibration.run(map: map, atoms: [Atom(x: 4, y: 4, z: 4, element: "C")],
                                     options: CalibrationOptions(scaleRange: 1.1...1.1))
    }
}

@Test func testRecovers1PFEPixelSizeWithin0Point2PercentAt3Angstrom() throws {
    let (_, error) = try calibrate("1pfe.cif.gz", truePixel: 0.9, headerPixel: 0.9 * 0.97, size: 64, resolution: 3)
    #expect(abs(error) < 0.002)
}

@Test func testRecovers1PFEPixelSizeWithin0Point5PercentAt4Point5Angstrom() throws {
    let (_, error) = try calibrate("1pfe.cif.gz", truePixel: 1.2, headerPixel: 1.2 * 1.06, size: 48, resolution: 4.5, blurB: 80)
    #expect(abs(error) < 0.005)
}

@Test func testRefinesA2DegreeMisrotationTogetherWithA4PercentPixelSizeError() throws {
    let model = try ModelReader.read(path: fixture("1orc.pdb")).model
    let misrotation = SIMD3<Double>(1.2, -1.4, 0.9)      // 2.05° about an oblique axis
    let c = try syntheticCase(model: model, truePixel: 1.0, headerPixel: 1.04, size: 64, blurB: 40,
                              resolution: 3, noise: 2, seed: 5, misrotation: misrotation)
    var options = CalibrationOptions(resolution: 3, skipUnknownElements: true)
    options.refineRotation = true
    let result = try ModelCalibration.run(map: c.map, atoms: c.atoms, options: options)
    let r = try #require(result.rotation)
    // The refined rotation undoes the misrotation: their product is (almost) the identity.
    let residual = SmallRotation(degrees: SIMD3(r[0], r[1], r[2])).then(SmallRotation(degrees: misrotation)).angle
    let error = (result.pixelSize - 1.0) / 1.0
    print("misrotation 2.05°: refined \(r.map { String(format: "%.2f", $0) }) (angle \(String(format: "%.2f", result.rotationAngle ?? -1))°), "
          + "residual \(String(format: "%.3f", residual))°, pixel \(String(format: "%.5f", result.pixelSize)), CC \(String(format: "%.3f", result.score)), evaluations \(result.evaluations)")
    #expect(residual < 0.3)
    #expect(abs(error) < 0.002)
    // Without the rotation refinement the correlation at the optimum is lower.
    let fixed = try ModelCalibration.run(map: c.map, atoms: c.atoms, options: CalibrationOptions(resolution: 3, skipUnknownElements: true))
    print("without --refine-rotation: pixel \(String(format: "%.5f", fixed.pixelSize)), CC \(String(format: "%.3f", fixed.score)), evaluations \(fixed.evaluations)")
    #expect(fixed.score < result.score)
    #expect(fixed.rotation == nil)
}

@Test func testSmallRotationMatchesRodriguesAndComposes() {
    let r = SmallRotation(degrees: SIMD3(0, 0, 90))
    let v = r.apply(SIMD3(1, 0, 0))
    #expect(abs(v.x) < 1e-12 && abs(v.y - 1) < 1e-12 && abs(v.z) < 1e-12)
    #expect(abs(SmallRotation(degrees: SIMD3(1, 2, 2)).angle - 3) < 1e-9)
    let a = SmallRotation(degrees: SIMD3(0.5, -1, 2))
    #expect(a.then(SmallRotation(degrees: SIMD3(-0.5, 1, -2))).angle < 1e-6)
}
