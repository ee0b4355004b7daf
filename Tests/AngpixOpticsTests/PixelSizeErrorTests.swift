// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// The reference text's "Cs and the error in the pixel size": a CTF at 5000 Å, Cs 2.7 mm, 300 kV,
// truly 0.51 Å/px but believed to be 0.54 Å/px, fitted at the nominal pixel size over 30–3.5 Å.

import Foundation
import Testing
@testable import AngpixOptics

private let reference = try! PixelSizeErrorSimulation.referenceCase.run()

@Test func testDefocusAloneAbsorbsErrorAtLowResolution() throws {
    let fit = try #require(reference.fit(.defocus))
    // "The defocus became 5526 Å, absorbing the error in the pixel size."
    #expect(abs(fit.defocus - 5526) < 1.0, "fitted \(fit.defocus)")
    #expect(fit.sphericalAberration == 2.7)
    // Inside the fit range the phase error stays small.
    #expect(fit.phase.maxPhaseErrorInFitRange < 9)
}

@Test func testDefocusFitStaysInPhaseUpToAbout3Point3Angstrom() throws {
    let fit = try #require(reference.fit(.defocus))
    let holds = try #require(fit.phase.holdsTo)
    // "The fit is almost perfect up to about 3.3 Å."
    #expect(abs(holds.resolution - 3.3) < 0.05, "holds to \(holds.resolution)")
    let out = try #require(fit.phase.outOfPhaseFrom)
    #expect(out.resolution < holds.resolution)
    #expect(out.resolution > 2.0 && out.resolution < 2.5, "out of phase from \(out.resolution)")
}

@Test func testDefocusFitComesBackIntoPhaseNear1Point8Angstrom() throws {
    let fit = try #require(reference.fit(.defocus))
    let back = try #require(fit.phase.backInPhase.first)
    // "The two curves came into phase again at about 1.8 Å (0.55)!"
    #expect(abs(back.resolution - 1.8) < 0.05, "back in phase at \(back.resolution)")
    #expect(abs(back.frequency - 0.55) < 0.01)
    #expect(back.resolution < fit.phase.outOfPhaseFrom!.resolution)
}

@Test func testDefocusAndCsAbsorbPixelSizeErrorCompletely() throws {
    let fit = try #require(reference.fit(.defocusAndCs))
    // 5000 × (0.54/0.51)² = 5605.5 Å and 2.7 × (0.54/0.51)⁴ = 3.394 mm.
    #expect(abs(fit.defocus - 5605.5) < 0.1, "fitted \(fit.defocus)")
    #expect(abs(fit.sphericalAberration - 3.394) < 0.001, "fitted \(fit.sphericalAberration)")
    #expect(abs(reference.exactDefocus - 5000 * pow(0.54 / 0.51, 2)) < 1e-9)
    #expect(abs(reference.exactSphericalAberration - 2.7 * pow(0.54 / 0.51, 4)) < 1e-12)
    #expect(fit.rmsResidual < 1e-6)
    // In phase all the way to Nyquist.
    #expect(fit.phase.holdsTo == nil)
    #expect(fit.phase.holdsToNyquist)
    #expect(fit.phase.outOfPhaseFrom == nil)
    #expect(reference.fit(.defocus)?.phase.holdsToNyquist == false)
}

@Test func testNominalPixelSizeWithoutRefitIsOffAlreadyAt5Angstrom() throws {
    // "If one thought the pixel size is 0.54 Å/px, the calculated CTF became quite off even at 5 Å."
    let holds = try #require(reference.uncorrected.holdsTo)
    #expect(holds.resolution > 5)
    let out = try #require(reference.uncorrected.outOfPhaseFrom)
    #expect(out.resolution > 4)
}

@Test func testCorrectPixelSizeNeedsNoCorrection() throws {
    var sim = PixelSizeErrorSimulation.referenceCase
    sim.nominalAngpix = sim.trueAngpix
    let r = try sim.run()
    let fit = try #require(r.fit(.defocus))
    #expect(abs(fit.defocus - 5000) < 0.01)
    #expect(fit.phase.outOfPhaseFrom == nil)
}

@Test func testSimulationRejectsBadInput() {
    var sim = PixelSizeErrorSimulation.referenceCase
    sim.nominalAngpix = 0
    #expect(throws: OpticsError.self) { try sim.run() }
    sim = .referenceCase
    sim.fitFrom = 3; sim.fitTo = 30
    #expect(throws: OpticsError.self) { try sim.run() }
    sim = .referenceCase
    sim.fitTo = 0.9   // beyond Nyquist of 0.54 Å/px
    #expect(throws: OpticsError.self) { try sim.run() }
    sim = .referenceCase
    sim.amplitudeContrast = 1
    #expect(throws: OpticsError.self) { try sim.run() }
}

@Test func testCurvesCoverTruthNominalAndFits() throws {
    let c = reference.curves
    #expect(c.frequency.count == c.truth.count)
    #expect(c.nominal.count == c.truth.count)
    #expect(c.fitted.count == 2)
    // The defocus + Cs fit reproduces the truth everywhere.
    let worst = zip(c.fitted[1], c.truth).map { abs($0 - $1) }.max()!
    #expect(worst < 1e-4)
    #expect(abs(c.frequency.last! - 1 / (2 * 0.51)) < 1e-12)
}
