// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Model maps against analytic single-atom results (the integral of an atom is f(0) = Σ a_i times
// its occupancy; its radial profile is the Gaussian sum) and a grid-independence check.

import Foundation
import Testing
import AngpixTestSupport
@testable import AngpixModels

@Test func testPengTableGivesBohrRadiusForHydrogenAndKnownForwardScattering() throws {
    let h = try #require(ScatteringFactor(element: "H"))
    #expect(abs(h.forwardScattering - 0.529) < 0.001)
    let c = try #require(ScatteringFactor(element: "C"))
    #expect(abs(c.forwardScattering - 2.509) < 0.002)
    // The curve falls monotonically with s.
    #expect(c.value(s: 0) > c.value(s: 0.5) && c.value(s: 0.5) > c.value(s: 1.5))
    #expect(ScatteringFactor(element: "D") == ScatteringFactor(element: "h"))
    #expect(ScatteringFactor(element: "Xx") == nil)
}

@Test func testSingleAtomIntegralEqualsForwardScatteringTimesOccupancy() throws {
    for (element, b, pixel) in [("C", 20.0, 0.5), ("O", 5.0, 0.4), ("S", 60.0, 1.0), ("N", 30.0, 0.8)] {
        let atom = Atom(x: 10.1, y: 9.7, z: 10.3, element: element, occupancy: 0.7, bFactor: b)
        let grid = MapGrid(nx: 48, ny: 48, nz: 48, pixelSize: pixel, origin: SIMD3(repeating: 10 - 24 * pixel))
        let map = try ModelMap.simulate(atoms: [atom], grid: grid)
        let integral = map.reduce(0.0) { $0 + Double($1) } * pow(pixel, 3)
        let expected = 0.7 * ScatteringFactor(element: element)!.forwardScattering
        #expect(abs(integral - expected) / expected < 2e-3, "\(element): \(integral) vs \(expected)")
    }
}

@Test func testRadialProfileMatchesGaussianSum() throws {
    let atom = Atom(x: 0, y: 0, z: 0, element: "N", bFactor: 15)
    let pixel = 0.25
    let grid = MapGrid(nx: 41, ny: 41, nz: 41, pixelSize: pixel, origin: SIMD3(repeating: -20 * pixel))
    let map = try ModelMap.simulate(atoms: [atom], grid: grid, settings: ModelMapSettings(overallBFactor: 5))
    let f = ScatteringFactor(element: "N")!
    for i in [0, 1, 3, 6, 10] {
        let value = Double(map[(20 * 41 + 20) * 41 + 20 + i])
        let expected = f.density(r: Double(i) * pixel, bFactor: 20)
        #expect(abs(value - expected) <= 1e-4 * f.density(r: 0, bFactor: 20) + 1e-4 * expected, "r=\(Double(i) * pixel)")
    }
}

@Test func testModelMapIsGridIndependent() throws {
    let path = try fixture("1orc.pdb")
    let model = try ModelReader.read(path: path).model
    let c = model.centroid
    let centre = SIMD3(c.x, c.y, c.z)
    let settings = ModelMapSettings(resolution: 4)
    let coarse = MapGrid.centred(on: centre, size: 64, pixelSize: 1.0)
    let fine = MapGrid(nx: 128, ny: 128, nz: 128, pixelSize: 0.5, origin: coarse.origin)
    let a = try ModelMap.simulate(model, grid: coarse, settings: settings)
    let b = try ModelMap.simulate(model, grid: fine, settings: settings)
    // The same total density.
    let ia = a.reduce(0.0) { $0 + Double($1) } * 1.0
    let ib = b.reduce(0.0) { $0 + Double($1) } * 0.125
    #expect(abs(ia - ib) / ia < 1e-3)
    // Fine voxels halfway between coarse ones agree with the trilinear interpolation of the coarse
    // map (a 4 Å map is smooth on a 1 Å grid); coinciding voxels agree exactly.
    var num = 0.0, da = 0.0, db = 0.0, maxCoincident = 0.0, peak = 0.0
    for z in stride(from: 2, to: 124, by: 2) {
        for y in stride(from: 2, to: 124, by: 2) {
            for x in stride(from: 2, to: 124, by: 2) {
                let cx = x / 2, cy = y / 2, cz = z / 2
                let ca = Double(a[(cz * 64 + cy) * 64 + cx])
                maxCoincident = max(maxCoincident, abs(ca - Double(b[(z * 128 + y) * 128 + x])))
                peak = max(peak, ca)
                // The fine voxel at (x+1, y+1, z+1) is the centre of a coarse cell.
                var interp = 0.0
                for dz in 0...1 { for dy in 0...1 { for dx in 0...1 {
                    interp += Double(a[((cz + dz) * 64 + cy + dy) * 64 + cx + dx]) / 8
                } } }
                let fv = Double(b[((z + 1) * 128 + y + 1) * 128 + x + 1])
                num += interp * fv; da += interp * interp; db += fv * fv
            }
        }
    }
    #expect(maxCoincident < 1e-5 * peak + 1e-6)
    #expect(num / (da * db).squareRoot() > 0.99)
}

@Test func testMissingScatteringFactorIsAClearErrorUnlessSkipped() throws {
    let atoms = [Atom(x: 0, y: 0, z: 0, element: "C"), Atom(x: 1, y: 0, z: 0, element: "Am", name: "AM", line: 7)]
    let grid = MapGrid(nx: 8, ny: 8, nz: 8, pixelSize: 1)
    #expect(throws: ModelError.noScatteringFactors(elements: ["Am"], line: 7, atomName: "AM")) {
        _ = try ModelMap.simulate(atoms: atoms, grid: grid)
    }
    let prepared = try DensityAtoms(atoms: atoms, skipUnknownElements: true)
    #expect(prepared.count == 1 && prepared.skipped == ["Am": 1])
}
