// `calibrate map`: the pixel size of a map relative to a reference map of the same structure.

import Foundation
import Testing
import TestSupport
@testable import Calibration
import Models

@Test func testMapAgainstReferenceRecoversRelativeScale() throws {
    let model = try ModelReader.read(path: try #require(sharedData("1orc.pdb"))).model
    // Reference: true 1.0 Å, header right. Map: true 1.2 Å, header 1.25 Å (4 % too large).
    let reference = try syntheticCase(model: model, truePixel: 1.0, headerPixel: 1.0, size: 64, blurB: 30, resolution: 3.5, noise: 1, seed: 3)
    let moving = try syntheticCase(model: model, truePixel: 1.2, headerPixel: 1.25, size: 56, blurB: 50, resolution: 3.5, noise: 1, seed: 4)
    let result = try MapCalibration.run(map: moving.map, reference: reference.map, options: CalibrationOptions(resolution: 3.5))
    let error = (result.pixelSize - 1.2) / 1.2
    print("map vs map: \(result.pixelSize) ± \(result.uncertainty) Å (error \(error * 100) %), CC \(result.score), evaluations \(result.evaluations)")
    #expect(abs(error) < 0.003)
    #expect(abs(result.scale - 1.2 / 1.25) < 0.003)
}

@Test func testFlatReferenceIsAClearError() throws {
    let flat = DensityGrid(nx: 16, ny: 16, nz: 16, pixelSize: 1, data: [Float](repeating: 1, count: 4096))
    #expect(throws: CalibrationError.flatMap("the reference map")) {
        _ = try MapCalibration.run(map: flat, reference: flat)
    }
}
