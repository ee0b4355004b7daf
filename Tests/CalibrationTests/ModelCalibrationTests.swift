// Accuracy of `calibrate model` on maps simulated from the shared PDB entries at a known pixel
// size whose headers are 2-6 % off: within 0.2 % at 3 Å and 0.5 % at 4.5 Å.

import Foundation
import Testing
import TestSupport
@testable import Calibration
import Models

@Test func testRecovers1ORCPixelSizeWithin0Point2PercentAt3Angstrom() throws {
    let model = try ModelReader.read(path: try #require(sharedData("1orc.pdb"))).model
    let c = try syntheticCase(model: model, truePixel: 1.0, headerPixel: 1.04, size: 64, blurB: 40, resolution: 3, noise: 1.0)
    let start = Date()
    let result = try ModelCalibration.run(map: c.map, atoms: c.atoms, options: CalibrationOptions(resolution: 3))
    let error = (result.pixelSize - c.truePixelSize) / c.truePixelSize
    print("1orc 3 Å: pixel \(result.pixelSize) ± \(result.uncertainty), CC \(result.score), B \(result.overallBFactor ?? -1), offset \(result.offset), evals \(result.evaluations), \(Date().timeIntervalSince(start)) s")
    #expect(abs(error) < 0.002)
    #expect(result.uncertainty > 0 && result.uncertainty < 0.01)
    #expect(result.warnings.contains(ModelCalibration.biasWarning))
}
