// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The reference text's merged-datasets case end to end, on particles made by an independent
// simulator (`angpix simulate particles`: projection at the true pixel size, CTF on a field larger
// than the box, the detector's distortion and pixel area, noise) rather than by the refinement's
// own projector: three optics groups under one nominal 1.00 Å, one truly at 1.02 Å, one with a
// 1.5 % anisotropy at 30°, one as the reference; `refine magnification` must find each.

import Foundation
import Testing
import AngpixTestSupport
@testable import AngpixRefine

@Suite struct SimulatedProjectTests {
    @Test func mergedDatasetsOfDifferentPixelSizesAreFoundFromTheirParticles() throws {
        let dir = TemporaryDirectory("refine-simulated")
        let project = dir.file("project")
        let sim = try runAngpix(["simulate", "particles", "--builtin-model", "-o", project, "--particles", "600",
                                 "--snr", "1", "--seed", "7",
                                 "--group", "name=reference", "--group", "name=dataset2,true-angpix=1.02",
                                 "--group", "name=dataset3,aniso=1.5,axis=30"])
        try #require(sim.status == 0, "\(sim.stderr)")
        let run = try runAngpix(["refine", "magnification", "particles.star", "--postprocess", "PostProcess/postprocess.star",
                                 "-o", "Refine", "--iterations", "6", "--json"], cwd: project)
        try #require(run.status == 0, "\(run.stderr)")
        let summary = try JSONDecoder().decode(MagnificationSummary.self, from: Data(run.stdout.utf8))
        let (reference, big, aniso) = (summary.groups[0], summary.groups[1], summary.groups[2])
        printMeasured("simulated project: dataset2 pixel size (truth 1.0200 Å)", big.impliedPixelSize)
        printMeasured("simulated project: dataset3 anisotropy % (truth 1.511)", aniso.anisotropyPercent)
        printMeasured("simulated project: dataset3 axis of least magnification ° (truth −60)", aniso.anisotropyAxisDegrees)
        printMeasured("simulated project: reference group's pixel size (truth 1.0000 Å)", reference.impliedPixelSize)
        printMeasured("simulated project: reference group's anisotropy % (truth 0)", reference.anisotropyPercent)
        // The truth in the decomposition's conventions: M = I / 1.02 for dataset2; for dataset3
        // (σmax/σmin − 1) = 1.511 % with the least magnification 90° from the stretch's 30°.
        #expect(abs(big.impliedPixelSize - 1.02) < 0.001)
        #expect(abs(aniso.anisotropyPercent - 1.511) < 0.15)
        #expect(abs(aniso.anisotropyAxisDegrees - -60) < 3)
        #expect(abs(reference.impliedPixelSize - 1) < 0.0015)
        #expect(reference.anisotropyPercent < 0.1)
    }
}
