// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// `calibrate map`: the pixel size of a map relative to a reference map of the same structure.

import Foundation
import Testing
import AngpixTestSupport
@testable import AngpixCalibration
import AngpixModels

@Test func testMapAgainstReferenceRecoversRelativeScale() throws {
    let model = try ModelReader.read(path: fixture("1orc.pdb")).model
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

/// `model` simulated on `grid` (B blur, resolution, noise σ relative to the signal's sd), as a
/// DensityGrid with `headerPixel` and `headerOrigin`.
private func simulatedMap(_ model: AtomicModel, grid: MapGrid, headerPixel: Double, headerOrigin: SIMD3<Double>,
                          blurB: Double, resolution: Double, noise: Double, seed: UInt64) throws -> DensityGrid {
    var data = try ModelMap.simulate(model, grid: grid, settings: ModelMapSettings(overallBFactor: blurB, resolution: resolution,
                                                                                   skipUnknownElements: true))
    addRelativeNoise(&data, relative: noise, seed: seed)
    return DensityGrid(nx: grid.nx, ny: grid.ny, nz: grid.nz, pixelSize: headerPixel, origin: headerOrigin, data: data)
}

@Test func testMapCalibrationOverlaysMapsByTheirHeaderOrigins() throws {
    let model = try ModelReader.read(path: fixture("1orc.pdb")).model
    let c = model.centroid
    let centre = SIMD3(c.x, c.y, c.z)
    // Reference: 1.0 Å, 60³, the structure off its box centre by (2.7, -3.8, 0.9) Å.
    let refGrid = MapGrid(nx: 60, ny: 60, nz: 60, pixelSize: 1.0, origin: centre - SIMD3(27.3, 33.8, 29.1))
    let reference = try simulatedMap(model, grid: refGrid, headerPixel: 1.0, headerOrigin: refGrid.origin,
                                     blurB: 30, resolution: 3.5, noise: 1, seed: 21)
    // MAP: true 1.1 Å, header 1.15 Å (4.5 % too large), 52³, the structure off its box centre by
    // (−12.1, 8.8, −7.7) Å; its header origin was written with the header's pixel size.
    let mapGrid = MapGrid(nx: 52, ny: 52, nz: 52, pixelSize: 1.1, origin: centre - SIMD3(repeating: 26 * 1.1) + SIMD3(12.1, -8.8, 7.7))
    let map = try simulatedMap(model, grid: mapGrid, headerPixel: 1.15, headerOrigin: mapGrid.origin * (1.15 / 1.1),
                               blurB: 50, resolution: 3.5, noise: 1, seed: 22)
    #expect(MapCalibration.resolvedOverlay(.auto, map: map, reference: reference) == .origin)
    let result = try MapCalibration.run(map: map, reference: reference, options: CalibrationOptions(resolution: 3.5))
    let error = (result.pixelSize - 1.1) / 1.1
    print("origins: \(String(format: "%.5f", result.pixelSize)) ± \(String(format: "%.5f", result.uncertainty)) Å (error \(String(format: "%+.3f", error * 100)) %), "
          + "CC \(String(format: "%.3f", result.score)), offset \(result.offset.map { String(format: "%.2f", $0) })")
    #expect(abs(error) < 0.003)
    #expect(!result.warnings.contains { $0.contains("overlay") })
    // Overlaying the box centres instead puts the structures 15 Å apart (beyond the 5 Å offset refined): far worse.
    let centred = try MapCalibration.run(map: map, reference: reference, options: CalibrationOptions(resolution: 3.5), overlay: .centre)
    print("box centres: \(String(format: "%.5f", centred.pixelSize)) Å, CC \(String(format: "%.3f", centred.score))")
    #expect(centred.score < result.score - 0.1)
}
