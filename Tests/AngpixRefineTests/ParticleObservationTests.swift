// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
import Testing
import AngpixFourier
import AngpixOptics
@testable import AngpixRefine

@Suite struct ParticleObservationTests {
    @Test func frequenciesFollowTheHalfComplexLayout() throws {
        let s = 8
        let n = s * (s / 2 + 1)
        let p = ParticleObservation(boxSize: s, pixelSize: 2, opticsGroup: 1, randomSubset: 1, micrographName: "m",
                                    row: 0, ctf: CTFParameters(defocusU: 10000),
                                    observed: .init(repeating: .zero, count: n), predicted: .init(repeating: .zero, count: n))
        #expect(p.spectrumCount == 40)
        // Row 0, column 4: Nyquist along x, 4 / (8 · 2) = 0.25 1/Å.
        #expect(p.frequency(ofIndex: 4) == (x: 0.25, y: 0))
        // Row 7 is frequency −1 along y.
        let f = p.frequency(ofIndex: 7 * 5 + 1)
        #expect(f.x == 1.0 / 16 && f.y == -1.0 / 16)
    }
}
