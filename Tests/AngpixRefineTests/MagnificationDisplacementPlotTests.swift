// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The displacement plots of `refine magnification`: one SVG per optics group in OUTDIR, and the
// fields behind them on a set whose first group's pixels are truly 2 % larger than its nominal
// pixel size (M = I / 1.02, so d = D k with D ≈ −1.96 % · I) beside a group without error.

import Foundation
import Testing
import AngpixCore
import AngpixOptics
import AngpixTestSupport
@testable import AngpixRefine

@Suite struct MagnificationDisplacementPlotTests {
    @Test func aTwoPercentScaleErrorShowsInTheFieldsAndTheirPlots() throws {
        let dir = TemporaryDirectory("refine-mag-displacement")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .scale(1 / 1.02), particles: 30),
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 30)], noise: 0.02, seed: 11)
        let source = ReferenceSource(half1: set.folder + "/half1.mrc", half2: set.folder + "/half2.mrc", fsc: set.postprocess)
        var options = MagnificationOptions()
        options.iterations = 1
        options.keepAstigmatism = true
        options.stream.projectDirectory = set.folder

        // The run writes one plot per group and lists it.
        let out = try MagnificationRun.run(input: set.star, reference: source, outputDirectory: dir.file("Mag"),
                                           options: options, force: false)
        for n in 1...2 {
            let path = dir.file("Mag/magnification_displacement_group\(n).svg")
            #expect(out.files.contains(path), "\(out.files)")
            let svg = try String(contentsOfFile: path, encoding: .utf8)
            #expect(svg.hasPrefix("<svg") && svg.contains("Optics group \(n) (group\(n))"))
        }

        // The fields of the first pass (what the plots show).
        let passes = try magnificationPasses(particles: RefineParticles(path: set.star), reference: source.load(), options: options)
        func data(_ group: Int) throws -> MagnificationPlots.DisplacementPlotData {
            let halves = try #require(passes.firstPassSums.groups[group])
            return try MagnificationPlots.displacementData(halves[0] + halves[1])
        }
        let wrong = try data(1), right = try data(2)
        let expected = 1 / 1.02 - 1
        // The fitted x component along kx (row 0 of the half-complex grid: k = (c / 48 Å, 0)):
        // the frequencies move inwards by 1.96 % of k (the first pass finds 98 % of it: −1.927 %).
        var checked = 0
        for c in [4, 8, 12, 16] where wrong.shown[c] {
            let k = wrong.fitted.grid.frequency(ofIndex: c)
            #expect(k.y == 0 && k.x > 0)
            let ratio = wrong.fitted.x[c] / k.x
            printMeasured("fitted dx / kx at column \(c) (truth \(String(format: "%.5f", expected)))", ratio)
            #expect(ratio < 0)
            #expect(abs(ratio - expected) < 0.03 * abs(expected))
            checked += 1
        }
        #expect(checked == 4)
        // The per-pixel field the fit used says the same, pixel by pixel (its median radial
        // displacement: −1.90 % measured; 0.003 % without error).
        func medianRadial(_ d: MagnificationPlots.DisplacementPlotData) -> Double {
            let r = MagnificationPlots.radialPercent(d.perPixel)
            let values = r.indices.filter { d.shown[$0] }.map { r[$0] }.sorted()
            return values.isEmpty ? .nan : values[values.count / 2]
        }
        printMeasured("per-pixel median radial displacement %, 2 % error (truth \(String(format: "%.3f", 100 * expected)))", medianRadial(wrong))
        printMeasured("per-pixel median radial displacement %, no error", medianRadial(right))
        #expect(abs(medianRadial(wrong) - 100 * expected) < 0.05 * abs(100 * expected))
        #expect(abs(medianRadial(right)) < 0.02)
        // The group without error has a fitted field two hundred times smaller (0.009 % measured).
        let radialRight = MagnificationPlots.radialPercent(right.fitted)
        let fittedRight = radialRight.indices.filter { right.shown[$0] }.map { abs(radialRight[$0]) }.max() ?? .nan
        printMeasured("largest |fitted radial displacement| %, no error", fittedRight)
        #expect(fittedRight < 0.015)
    }
}
