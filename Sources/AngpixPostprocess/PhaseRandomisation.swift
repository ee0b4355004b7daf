// SPDX-License-Identifier: Apache-2.0 (angpix; see LICENSE)
// RELION's phase randomisation beyond a shell (src/postprocessing.cpp, randomizePhasesBeyond),
// for the FSC of phase-randomised masked maps. Phases are drawn from glibc's rand() in RELION's
// loop order; the shells and the Hermitian planes come from AngpixFourier.

import Foundation
import AngpixCore
import AngpixFourier

extension FourierShells {
    /// Replaces the phase of every element with |k|² ≥ shell² by a random one, drawing the phases
    /// from `random` in RELION's loop order (z, then y, then x), as randomizePhasesBeyond does.
    /// The planes kx = 0 and kx = N/2 are then made Hermitian (F(−k) = F(k)*), which is what a
    /// real inverse transform makes of them. For cubic maps.
    public func randomizePhases(_ a: UnsafeMutableBufferPointer<Complex32>, beyondShell shell: Int,
                                random: inout GlibcRandom) {
        precondition(isCubic && shape.count == 3 && a.count == spectrumCount,
                     "randomizePhases: a cubic map's spectrum is needed")
        let limit = Double(shell * shell)
        let size = shape[0]
        let slabCount = size * rowLength
        let zBlock = max(1, min(size, (1 << 22) / max(1, slabCount)))
        var phases = [Float](repeating: .nan, count: zBlock * slabCount)
        var z0 = 0
        while z0 < size {
            let z1 = min(size, z0 + zBlock)
            // Draw the phases in order (sequential: one generator).
            for row in (z0 * size)..<(z1 * size) {
                let local = (row - z0 * size) * rowLength
                for x in 0..<rowLength {
                    phases[local + x] = squaredRadius(row: row, x: x) >= limit ? random.relionPhase() : .nan
                }
            }
            // Apply them in parallel.
            phases.withUnsafeBufferPointer { ph in
                nonisolated(unsafe) let ph = ph, a = a
                let rows = (z1 - z0) * size
                let parts = splitRange(rows, into: min(rows, Parallelism.jobs * 4))
                parallelForEach(parts.count) { c in
                    for r in parts[c] {
                        let local = r * rowLength
                        let global = z0 * slabCount + local
                        for x in 0..<rowLength {
                            let p = ph[local + x]
                            if p.isNaN { continue }
                            let v = a[global + x]
                            // RELION computes in double; the result is stored in single precision
                            // here, so single-precision cos/sin lose nothing that is kept.
                            let mag = (v.re * v.re + v.im * v.im).squareRoot()
                            a[global + x] = Complex32(mag * cos(p), mag * sin(p))
                        }
                    }
                }
            }
            z0 = z1
        }
        makeHermitianPlanes(a.baseAddress!, size: size, dimensions: 3)
    }
}
