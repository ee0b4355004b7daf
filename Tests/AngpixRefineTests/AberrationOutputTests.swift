// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// Writing aberration and defocus results: RELION's beam-tilt split of the odd terms (round trip
// with its insertTilt), the vector format, and only the changed values rewritten.

import Foundation
import Testing
import AngpixCore
import AngpixSTAR
import AngpixOptics
import AngpixTestSupport
@testable import AngpixRefine

@Suite struct AberrationOutputTests {
    @Test func beamTiltComesOutOfTheOddTermsAsRelionPutsItIn() {
        // RELION's insertTilt of (0.3, −0.2) mrad at Cs 2.7, 300 kV, into [0.01, 0.02, 0, 0.003, 0.004, 0].
        let lambda = electronWavelength(kilovolts: 300)
        let s = 2.7 * 20000 * lambda * lambda * Double.pi
        let z3x = -s * 0.3 / 3, z3y = -s * -0.2 / 3
        let odd = [0.01 + 2 * z3y, 0.02 + 2 * z3x, 0, z3y, z3x, 0]
        let r = BeamTilt.extract(from: odd, sphericalAberration: 2.7, wavelength: lambda)
        #expect(abs(r.tiltX! - 0.3) < 1e-9 && abs(r.tiltY! + 0.2) < 1e-9)
        #expect(abs(r.remaining[0] - 0.01) < 1e-15 && abs(r.remaining[1] - 0.02) < 1e-15)
        #expect(r.remaining[3] == 0 && r.remaining[4] == 0)
    }

    @Test func onlyTheChangedValuesAreRewritten() throws {
        let dir = TemporaryDirectory("refine-aberr-out")
        let set = try SyntheticParticleSet.make(in: dir.path, groups: [
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 3),
            SyntheticGroup(box: 48, pixelSize: 1.0, trueMatrix: .identity, particles: 3)])
        let particles = try RefineParticles(path: set.star)
        try applyAberrations(to: particles, [2: GroupAberrations(evenZernike: [0, 0.1, -0.2, 0, 0, 0, -4.1], beamTiltX: 0.25, beamTiltY: -0.1)])
        try applyDefocus(to: particles, [4: (u: 12345.5, v: 12000.25, angle: 33)])
        let out = dir.file("out.star")
        try particles.file.document.write(to: out, policy: OutputPolicy())
        let again = try RefineParticles(path: out)
        #expect(again.optics.groups[1].evenZernike == [0, 0.1, -0.2, 0, 0, 0, -4.1])
        #expect(again.optics.groups[0].evenZernike == [])
        #expect(again.optics.groups[1].values["rlnBeamTiltX"] == "0.250000")
        #expect(again.records[4].defocusU == 12345.5 && again.records[4].defocusAngle == 33)
        let before = try String(contentsOfFile: set.star, encoding: .utf8).components(separatedBy: "\n")
        let after = try String(contentsOfFile: out, encoding: .utf8).components(separatedBy: "\n")
        // Particle rows other than row 5 are written as they were read.
        let rows1 = before.filter { $0.contains("@Stacks/") }, rows2 = after.filter { $0.contains("@Stacks/") }
        #expect(rows1.count == 6 && rows2.count == 6)
        for (i, (a, b)) in zip(rows1, rows2).enumerated() where i != 4 {
            #expect(a.split(separator: " ") == b.split(separator: " "), "row \(i + 1)")
        }
    }
}
