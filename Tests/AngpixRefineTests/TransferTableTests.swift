// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
import Testing
import AngpixOptics
@testable import AngpixRefine

@Suite struct TransferTableTests {
    @Test func tableEvaluatesTheCTFOfAnyParticleOfTheGroup() throws {
        // One group's optics (matrix, even and odd Zernike terms), particles with different defocus,
        // astigmatism, B-factor, scale and phase shift: the table gives the CTF module's values.
        let group = CTFParameters(defocusU: 10000, amplitudeContrast: 0.07,
                                  evenZernike: [0.1, 0.2, -0.3, 0.05, 0, 0, 4.4], oddZernike: [0.02, -0.03, 0.5, -11, 7, 0.3],
                                  magMatrix: MagnificationDecomposition.matrix(scale: 0.99, anisotropyPercent: 1.2, majorAxisAngle: 25))
        let grid = SpectrumGrid(opticsGroup: 3, boxSize: 48, pixelSize: 1.3)
        let table = TransferTable(grid: grid, ctf: group)
        for (u, v, angle, b, scale, shift) in [(12000.0, 11500.0, 33.0, 0.0, 1.0, 0.0), (21000, 21000, 0, 80, 0.7, 30)] {
            var p = group
            p.defocusU = u; p.defocusV = v; p.defocusAngle = angle; p.bFactor = b; p.scale = scale; p.phaseShift = shift
            #expect(table.fits(p))
            let ctf = try CTF(p), tp = table.particle(p)
            for i in stride(from: 0, to: grid.count, by: 7) {
                let k = grid.frequency(ofIndex: i)
                let a = ctf.complexValue(x: k.x, y: k.y), t = table.transfer(tp, i)
                #expect(abs(a.re - t.re) < 1e-9 && abs(a.im - t.im) < 1e-9)
                #expect(abs(ctf.gamma(x: k.x, y: k.y) - table.gamma(tp, i)) < 1e-9)
            }
        }
        var other = group
        other.evenZernike[6] = 4.5
        #expect(!table.fits(other))
    }
}
