// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Tests of the post-processing plots (PostprocessResult.fscPlot / guinierPlot / writePlots).

import Foundation
import Testing
import AngpixCore
import AngpixTestSupport
@testable import AngpixPostprocess

@Test func postprocessPlotsShowTheCurvesOfTheResult() throws {
    let dir = TemporaryDirectory("pp-plots")
    let p = try SyntheticHalfMaps(size: 32, pixelSize: 1.5, seed: 3).write(prefix: dir.file("m"))
    var o = PostprocessOptions()
    o.autoBFactor = true
    let r = try Postprocessor.run(half1: p.half1, half2: p.half2, mask: p.mask, options: o)
    let fsc = r.fscPlot()
    #expect(fsc.series.map(\.name) == ["corrected", "unmasked", "masked", "phase-randomised masked"])
    #expect(fsc.series[0].x.count == r.fscCorrected.count - 1)
    #expect(fsc.title == "Final resolution = \(formatFixed(r.finalResolution, decimals: 2)) Å")
    let guinier = r.guinierPlot()
    #expect(guinier.series.map(\.name).prefix(2) == ["original", "FSC-weighted"])
    #expect(guinier.series.contains { $0.name == "fit" } == (r.fit != nil))
    let out = dir.file("plots")
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let paths = try r.writePlots(directory: out, policy: OutputPolicy())
    #expect(paths.map { ($0 as NSString).lastPathComponent } == ["postprocess_fsc.svg", "postprocess_guinier.svg"])
    #expect(try String(contentsOfFile: paths[0], encoding: .utf8).contains("<svg"))
}
