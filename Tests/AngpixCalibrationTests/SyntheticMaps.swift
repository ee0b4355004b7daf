// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Test maps: a model's density simulated at a known (true) pixel size, blurred by a B-factor,
// low-passed to a resolution and with Gaussian noise, whose header states a wrong pixel size; the
// model is placed as if fitted into the map at the header's pixel size (centroid on the density's
// centroid), plus a small misplacement that the calibration must refine away.

import AngpixCore
import Foundation
@testable import AngpixCalibration
import AngpixModels

struct SyntheticCase {
    var map: DensityGrid
    var atoms: [Atom]
    var truePixelSize: Double
}

/// Simulates `model` at `truePixel` on a `size`³ box, with B blur, resolution, noise (σ relative to
/// the signal's standard deviation over the box), and a header claiming `headerPixel`.
func syntheticCase(model: AtomicModel, truePixel: Double, headerPixel: Double, size: Int, blurB: Double,
                   resolution: Double, noise: Double, seed: UInt64 = 1,
                   misplacement: SIMD3<Double> = SIMD3(0.4, -0.3, 0.2),
                   misrotation: SIMD3<Double> = .zero) throws -> SyntheticCase {
    let c = model.centroid
    let centre = SIMD3(c.x, c.y, c.z)
    // The centroid falls between voxels on purpose.
    var grid = MapGrid.centred(on: centre, size: size, pixelSize: truePixel)
    grid.origin += SIMD3(0.31, -0.17, 0.23) * truePixel
    var data = try ModelMap.simulate(model, grid: grid, settings: ModelMapSettings(overallBFactor: blurB, resolution: resolution,
                                                                                   skipUnknownElements: true))
    addRelativeNoise(&data, relative: noise, seed: seed)
    // The model as fitted at the header pixel size, map origin 0.
    let centroidVoxel = (centre - grid.origin) / truePixel
    let shift = centroidVoxel * headerPixel - centre + misplacement
    // A misrotation (rotation vector, degrees) turns the model about its centroid.
    let rotation = SmallRotation(degrees: misrotation)
    let atoms = model.atoms.map { a -> Atom in
        var b = a
        let p = rotation.apply(SIMD3(a.x, a.y, a.z) - centre) + centre + shift
        b.x = p.x; b.y = p.y; b.z = p.z
        return b
    }
    return SyntheticCase(map: DensityGrid(nx: size, ny: size, nz: size, pixelSize: headerPixel, origin: .zero, data: data),
                         atoms: atoms, truePixelSize: truePixel)
}

/// Adds Gaussian noise of `relative` times the data's standard deviation (reproducible from `seed`).
func addRelativeNoise(_ data: inout [Float], relative: Double, seed: UInt64) {
    let n = Double(data.count)
    let mean = data.reduce(0.0) { $0 + Double($1) } / n
    let sd = (data.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
    var rng = SplitMix64(seed: seed)
    for i in data.indices { data[i] += Float(relative * sd * rng.gaussian()) }
}
